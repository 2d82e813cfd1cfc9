/**
 * One attempt of a request on one backend, from dispatch to its end, keeping the pool and the
 * router told in one place: the gateway's forwarding and the routing benchmark both go through
 * here, so the benchmark measures the bookkeeping production does. Each verdict is taken once;
 * `end` is idempotent and safe on every exit path.
 */
import type { Clock } from '../platform/clock.ts';
import type { BackendPool, PooledBackend } from './backend-pool.ts';
import type { AttemptFailure, RouteAttempt, RouteRequest, Router } from './router.ts';

export type AttemptTrackerDeps = { pool: BackendPool; router: Router; clock: Clock };

export type TrackedAttempt = {
  readonly route: RouteAttempt;
  /** The first byte (a stream's first token) came back. */
  succeed(): void;
  /** Failed before its first byte; ends the attempt. */
  fail(failure: AttemptFailure, retryAfterMs?: number): void;
  /** Ends the attempt; without a verdict it counts as abandoned (the client left). */
  end(): void;
};

/**
 * Starts an attempt. `onSettled` runs once, when the attempt has its verdict (first byte or
 * failure) or ends without one: a retry's budget is given back then, since a retry that reached
 * its first byte is an ordinary request from there on.
 */
export function startAttempt(
  deps: AttemptTrackerDeps,
  request: RouteRequest,
  backend: PooledBackend,
  onSettled?: () => void,
): TrackedAttempt {
  const route = deps.router.dispatch(request, backend);
  const probe = deps.pool.begin(backend, route.dispatchedAtMs);
  let verdict: 'none' | 'success' | 'failure' = 'none';
  let ended = false;
  let settled = false;
  const settle = () => {
    if (!settled) {
      settled = true;
      onSettled?.();
    }
  };
  const end = () => {
    if (ended) {
      return;
    }
    ended = true;
    const atMs = deps.clock.nowMs();
    if (verdict === 'none') {
      deps.pool.recordAbandoned(backend, probe);
      deps.router.observe(route, { kind: 'abandoned', atMs });
    } else if (verdict === 'success') {
      deps.router.observe(route, { kind: 'done', atMs });
    }
    deps.pool.end(backend);
    settle();
  };
  return {
    route,
    succeed() {
      if (verdict !== 'none' || ended) {
        return;
      }
      verdict = 'success';
      const atMs = deps.clock.nowMs();
      deps.pool.recordSuccess(backend, atMs - route.dispatchedAtMs, probe);
      deps.router.observe(route, { kind: 'first_token', atMs });
      settle();
    },
    fail(failure, retryAfterMs) {
      if (verdict !== 'none' || ended) {
        return;
      }
      verdict = 'failure';
      const atMs = deps.clock.nowMs();
      deps.pool.recordFailure(backend, failure, atMs, { probe, retryAfterMs });
      deps.router.observe(route, { kind: 'failed', atMs, failure, retryAfterMs });
      end();
    },
    end,
  };
}
