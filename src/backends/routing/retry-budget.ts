/**
 * The retry budget (research/routing.md §5, Envoy's RetryBudget): later retries in flight at once
 * may be at most `retryBudgetBps` of the requests in flight, and never fewer than
 * `retryBudgetMin`. When a pool fails as a whole, retries would multiply its load exactly when it
 * can least take it; the budget lets a few through to route around one bad backend and refuses
 * the storm. A request's first retry (to another backend) is never refused: it at most doubles
 * the load, and refusing it turns one backend's failure into a client's, however many healthy
 * backends have room. First retries still count as in flight, so they leave less room for later
 * ones.
 */
import type { Limits } from '../../config.ts';

export type RetryBudgetSettings = Pick<Limits, 'retryBudgetBps' | 'retryBudgetMin'>;

export type RetryBudget = {
  /**
   * Takes one retry from the budget, given the requests in flight now: always a request's first
   * retry, a later one only while the budget lasts; false when spent.
   */
  tryAcquire(inFlightCount: number, firstRetry: boolean): boolean;
  /** Gives back a retry taken with tryAcquire, once that attempt has ended. */
  release(): void;
  readonly retriesInFlight: number;
  /** How many later retries may be in flight with `inFlightCount` requests in flight. */
  capacity(inFlightCount: number): number;
};

export function createRetryBudget(settings: RetryBudgetSettings): RetryBudget {
  let retriesInFlight = 0;
  const capacity = (inFlightCount: number) =>
    Math.max(
      settings.retryBudgetMin,
      Math.floor((inFlightCount * settings.retryBudgetBps) / 10_000),
    );
  return {
    tryAcquire(inFlightCount, firstRetry) {
      if (!firstRetry && retriesInFlight >= capacity(inFlightCount)) {
        return false;
      }
      retriesInFlight += 1;
      return true;
    },
    release() {
      retriesInFlight = Math.max(0, retriesInFlight - 1);
    },
    get retriesInFlight() {
      return retriesInFlight;
    },
    capacity,
  };
}
