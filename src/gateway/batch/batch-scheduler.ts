/**
 * The cross-cycle scheduler: one per deployment (the holder of the job lease, like the sweeper),
 * with all its state in the store, so another gateway (or this one restarted) carries on where
 * it stopped. Each tick it moves every open batch one step (batch-steps.ts), then sends pending
 * lines where batch work may go now (line-plans.ts): only into room that interactive requests
 * leave free, in off-peak windows or the cheapest region, and never into the capacity queue.
 * When a line ends, the freed room is offered again at once rather than at the next tick.
 */
import type { BatchLineRecord, BatchRecord } from '../../db/batch-store.ts';
import type { ClientIdentity, Deps } from '../../deps.ts';
import { createBatchEndpointRules } from './batch-endpoints.ts';
import { type LineRunOutcome, runBatchLine } from './batch-line-run.ts';
import { createBatchSteps } from './batch-steps.ts';
import { lineErrors } from './line-errors.ts';
import { nextLineMsMean } from './line-placement.ts';
import { backendsWithRoomIn, type LinePlan, planLines, takeRoom } from './line-plans.ts';

export type BatchScheduler = {
  /** One pass over the open batches, then lines sent into the room there is. */
  tick(): Promise<void>;
  /** Resolves once no line this gateway sent is still running and no pass is under way. */
  idle(): Promise<void>;
  /** Sends no more lines; those running end as they would. */
  stop(): void;
  /** Lines this gateway is running now. */
  readonly runningCount: number;
};

/** Open batches one pass looks at; the soonest to expire come first. */
const batchesPerPassMax = 256;

/**
 * Pending lines read per line that may be sent: lines of a model that must wait are skipped, so
 * a few more are read than can run, bounded.
 */
const linesReadPerSlot = 4;

export function createBatchScheduler(deps: Deps): BatchScheduler {
  const rules = createBatchEndpointRules(deps.config.limits);
  const steps = createBatchSteps(deps, rules);
  const { limits } = deps.config;
  const running = new Map<string, Promise<void>>();
  const neverAborted = new AbortController().signal;
  let stopped = false;
  let passes: Promise<void> = Promise.resolve();
  /** A line's mean run time here, measured as lines end: how early a backlog must start. */
  let lineMsMean = limits.batchLineSecondsEstimate * 1000;

  /** One pass at a time: a pass counts the room the previous one took. */
  function serially(pass: () => Promise<void>): Promise<void> {
    const next = passes.then(pass);
    passes = next.catch((error: unknown) => {
      deps.logger.log('error', 'batch_pass_failed', {
        message: error instanceof Error ? error.message : String(error),
      });
    });
    return next;
  }

  async function recordOutcome(batch: BatchRecord, line: BatchLineRecord, outcome: LineRunOutcome) {
    if (outcome.kind === 'requeued') {
      await deps.batches.unclaimLine(batch.id, line.lineIndex);
      return;
    }
    const endedAtMs = deps.clock.nowMs();
    lineMsMean = nextLineMsMean(lineMsMean, endedAtMs - (line.startedAtMs ?? endedAtMs));
    await deps.batches.endLine(batch.id, line.lineIndex, outcome.ending, endedAtMs);
    if (outcome.quotaRefused) {
      // The tenant cannot pay: the batch takes no more lines, and says why for each.
      await deps.batches.failPendingLines(batch.id, lineErrors.quota, deps.clock.nowMs());
    }
  }

  function launch(
    batch: BatchRecord,
    line: BatchLineRecord,
    client: ClientIdentity,
    region: string,
  ) {
    const key = `${batch.id}:${line.lineIndex}`;
    const run = runBatchLine({
      deps,
      rule: rules[batch.endpoint],
      batch,
      line,
      client,
      preferBackends: backendsWithRoomIn(deps, region),
      signal: neverAborted,
    })
      .then((outcome) => recordOutcome(batch, line, outcome))
      .catch((error: unknown) => {
        deps.logger.log('error', 'batch_line_record_failed', {
          batchId: batch.id,
          customId: line.customId,
          message: error instanceof Error ? error.message : String(error),
        });
      })
      .finally(() => {
        running.delete(key);
        if (!stopped) {
          void serially(dispatch);
        }
      });
    running.set(key, run);
  }

  /** Sends the pending lines of one batch that may run now; returns how many it sent. */
  async function dispatchBatch(batch: BatchRecord, budget: number): Promise<number> {
    const client = await steps.clientOf(batch);
    if (client === undefined) {
      await deps.batches.failPendingLines(batch.id, lineErrors.revoked, deps.clock.nowMs());
      return 0;
    }
    const plans = new Map<string, LinePlan>();
    let sent = 0;
    for (const line of await deps.batches.pendingLines(batch.id, -1, budget * linesReadPerSlot)) {
      if (sent >= budget) {
        break;
      }
      const plan =
        plans.get(line.model) ?? (await planLines(deps, batch, client, line.model, lineMsMean));
      plans.set(line.model, plan);
      const region = takeRoom(plan);
      const claimedAtMs = deps.clock.nowMs();
      if (
        region === undefined ||
        !(await deps.batches.claimLine(batch.id, line.lineIndex, deps.instanceId, claimedAtMs))
      ) {
        continue;
      }
      launch(batch, { ...line, status: 'running', startedAtMs: claimedAtMs }, client, region);
      sent += 1;
    }
    return sent;
  }

  async function dispatch(): Promise<void> {
    if (stopped) {
      return;
    }
    const nowMs = deps.clock.nowMs();
    const open = await deps.batches.batchesInStatus(['in_progress'], batchesPerPassMax);
    let budget = limits.batchLinesInFlightMax - running.size;
    for (const batch of open) {
      if (budget <= 0) {
        return;
      }
      if (nowMs < batch.expiresAtMs) {
        budget -= await dispatchBatch(batch, budget);
      }
    }
  }

  async function pass(): Promise<void> {
    if (stopped || !(await deps.jobLease.acquire())) {
      return;
    }
    const open = await deps.batches.batchesInStatus(
      ['validating', 'in_progress', 'finalizing', 'cancelling'],
      batchesPerPassMax,
    );
    for (const batch of open) {
      await steps.advance(batch);
    }
    await dispatch();
  }

  return {
    tick: () => serially(pass),
    async idle() {
      for (;;) {
        await passes;
        if (running.size === 0) {
          return;
        }
        await Promise.all(running.values());
      }
    },
    stop() {
      stopped = true;
    },
    get runningCount() {
      return running.size;
    },
  };
}
