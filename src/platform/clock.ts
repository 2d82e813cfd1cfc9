/**
 * Time as a port. Billing windows, off-peak prices, coupon validity and health probes read the
 * clock through this so tests can move time by hand instead of sleeping.
 */

export type Clock = {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
};

export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock that only moves when told to: for deterministic tests. */
export function createManualClock(startMs: number): Clock & { advanceMs(deltaMs: number): void } {
  let currentMs = startMs;
  return {
    nowMs: () => currentMs,
    advanceMs(deltaMs: number) {
      currentMs += deltaMs;
    },
  };
}

/** RFC 3339 in UTC, as the API writes every time. */
export function toRfc3339(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
