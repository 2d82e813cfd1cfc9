/**
 * The door of the gateway: counts the inference requests in flight (from admission until their
 * money is settled or released, which for a stream is after its last byte), refuses new ones past
 * a bound, and closes for good when a shutdown begins, so that a graceful stop can wait for the
 * count to reach zero before it closes the store.
 */

export type RequestGate = {
  readonly stopping: boolean;
  readonly inFlightCount: number;
  /** From now on every new request is refused; requests already in go on. */
  stop(): void;
  /**
   * Lets one request in and returns the function that lets it out (safe to call twice), or says
   * why it may not come in.
   */
  enter(inFlightMax: number): { ok: true; leave: () => void } | { ok: false; reason: GateRefusal };
  /** Resolves once no request is in flight. */
  idle(): Promise<void>;
};

export type GateRefusal = 'stopping' | 'full';

export function createRequestGate(): RequestGate {
  let stopping = false;
  let inFlightCount = 0;
  let waiters: (() => void)[] = [];

  const wakeIfIdle = () => {
    if (inFlightCount === 0) {
      const woken = waiters;
      waiters = [];
      for (const wake of woken) {
        wake();
      }
    }
  };

  return {
    get stopping() {
      return stopping;
    },
    get inFlightCount() {
      return inFlightCount;
    },
    stop() {
      stopping = true;
    },
    enter(inFlightMax) {
      if (stopping) {
        return { ok: false, reason: 'stopping' };
      }
      if (inFlightCount >= inFlightMax) {
        return { ok: false, reason: 'full' };
      }
      inFlightCount += 1;
      let left = false;
      return {
        ok: true,
        leave: () => {
          if (!left) {
            left = true;
            inFlightCount -= 1;
            wakeIfIdle();
          }
        },
      };
    },
    idle() {
      if (inFlightCount === 0) {
        return Promise.resolve();
      }
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}
