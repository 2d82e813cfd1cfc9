/**
 * The simulated GPU's batch: at most `slotCount` sequences run at once and the rest wait in a FIFO
 * queue, as in vLLM's scheduler. Counts are kept per tag (the model name) so `/metrics` can report
 * `vllm:num_requests_running` and `vllm:num_requests_waiting` per `model_name` and their sum is the
 * server's total.
 */

export type SlotSchedulerLimits = {
  slotCount: number;
  /** Requests beyond this many waiting are turned away instead of queued (a bounded queue). */
  waitingQueueLengthMax: number;
};

/** A held slot. `release` is idempotent so every exit path may call it. */
export type SlotLease = { release(): void };

export type SlotAcquisition =
  | { ok: true; lease: SlotLease }
  | { ok: false; reason: 'queue-full' | 'aborted' };

export type SlotCounts = { running: number; waiting: number };

export type SlotScheduler = {
  /** Resolves when a slot is free, or at once with `aborted` / `queue-full`. */
  acquire(tag: string, signal?: AbortSignal): Promise<SlotAcquisition>;
  counts(): SlotCounts;
  countsFor(tag: string): SlotCounts;
};

type Waiter = {
  tag: string;
  grant(lease: SlotLease): void;
};

export function createSlotScheduler(limits: SlotSchedulerLimits): SlotScheduler {
  // A Set keeps insertion order and deletes in O(1), which is all a FIFO with departures needs.
  const waiters = new Set<Waiter>();
  const countsByTag = new Map<string, SlotCounts>();
  let runningCount = 0;

  function tagCounts(tag: string): SlotCounts {
    let counts = countsByTag.get(tag);
    if (counts === undefined) {
      counts = { running: 0, waiting: 0 };
      countsByTag.set(tag, counts);
    }
    return counts;
  }

  function startRunning(tag: string): SlotLease {
    runningCount += 1;
    tagCounts(tag).running += 1;
    let released = false;
    return {
      release() {
        if (released) {
          return;
        }
        released = true;
        runningCount -= 1;
        tagCounts(tag).running -= 1;
        admitNextWaiter();
      },
    };
  }

  function admitNextWaiter(): void {
    const next = waiters.values().next();
    if (next.done === true || runningCount >= limits.slotCount) {
      return;
    }
    const waiter = next.value;
    waiters.delete(waiter);
    tagCounts(waiter.tag).waiting -= 1;
    waiter.grant(startRunning(waiter.tag));
  }

  function enqueue(tag: string, signal: AbortSignal | undefined): Promise<SlotAcquisition> {
    return new Promise((resolve) => {
      const onAbort = () => {
        waiters.delete(waiter);
        tagCounts(tag).waiting -= 1;
        resolve({ ok: false, reason: 'aborted' });
      };
      const waiter: Waiter = {
        tag,
        grant(lease) {
          signal?.removeEventListener('abort', onAbort);
          resolve({ ok: true, lease });
        },
      };
      waiters.add(waiter);
      tagCounts(tag).waiting += 1;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  return {
    acquire(tag, signal) {
      if (signal?.aborted === true) {
        return Promise.resolve({ ok: false, reason: 'aborted' });
      }
      if (runningCount < limits.slotCount && waiters.size === 0) {
        return Promise.resolve({ ok: true, lease: startRunning(tag) });
      }
      if (waiters.size >= limits.waitingQueueLengthMax) {
        return Promise.resolve({ ok: false, reason: 'queue-full' });
      }
      return enqueue(tag, signal);
    },
    counts: () => ({ running: runningCount, waiting: waiters.size }),
    countsFor(tag) {
      const counts = countsByTag.get(tag);
      return counts === undefined ? { running: 0, waiting: 0 } : { ...counts };
    },
  };
}
