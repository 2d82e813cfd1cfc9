/**
 * One attempt of a request on one backend, from dispatch to its end, keeping the pool and the
 * router told in one place: the gateway's forwarding and the routing benchmark both go through
 * here, so the benchmark measures the bookkeeping production does. Each verdict is taken once;
 * `end` is idempotent and safe on every exit path.
 */
import type { Clock } from '../platform/clock.ts';
import type { BackendPool, PooledBackend } from './backend-pool.ts';
import type { AttemptFailure, RouteAttempt, RouteRequest, Router } from './routing/router.ts';

export type AttemptTrackerDeps = { pool: BackendPool; router: Router; clock: Clock };

export type TrackedAttempt = {
  readonly route: RouteAttempt;
  /** The first byte (a stream's first token) came back. */
  succeed(): void;
  /** Failed before its first byte; ends the attempt. */
  fail(failure: AttemptFailure, retryAfterMs?: number): void;
  /**
   * Ends the attempt; without a verdict it counts as abandoned (the client left). After a
   * success, the output tokens per choice the answer had, when known, teach the router the
   * backend's decode speed.
   */
  end(outputTokens?: number): void;
};

/**
 * A class, not an object of closures: one lives per request in flight (for a stream, as long as
 * the stream), and its methods are shared by all of them.
 */
class Attempt implements TrackedAttempt {
  readonly route: RouteAttempt;
  readonly #deps: AttemptTrackerDeps;
  readonly #backend: PooledBackend;
  readonly #onSettled: (() => void) | undefined;
  readonly #probe: boolean;
  #verdict: 'none' | 'success' | 'failure' = 'none';
  #ended = false;
  #settled = false;

  constructor(
    deps: AttemptTrackerDeps,
    backend: PooledBackend,
    request: RouteRequest,
    onSettled: (() => void) | undefined,
  ) {
    this.#deps = deps;
    this.#backend = backend;
    this.#onSettled = onSettled;
    this.route = deps.router.dispatch(request, backend);
    this.#probe = deps.pool.begin(backend, this.route.dispatchedAtMs);
  }

  succeed(): void {
    if (this.#verdict !== 'none' || this.#ended) {
      return;
    }
    this.#verdict = 'success';
    const atMs = this.#deps.clock.nowMs();
    this.#deps.pool.recordSuccess(this.#backend, atMs - this.route.dispatchedAtMs, this.#probe);
    this.#deps.router.observe(this.route, { kind: 'first_token', atMs });
    this.#settle();
  }

  fail(failure: AttemptFailure, retryAfterMs?: number): void {
    if (this.#verdict !== 'none' || this.#ended) {
      return;
    }
    this.#verdict = 'failure';
    const atMs = this.#deps.clock.nowMs();
    this.#deps.pool.recordFailure(this.#backend, failure, atMs, {
      probe: this.#probe,
      retryAfterMs,
    });
    this.#deps.router.observe(this.route, { kind: 'failed', atMs, failure, retryAfterMs });
    this.end();
  }

  end(outputTokens?: number): void {
    if (this.#ended) {
      return;
    }
    this.#ended = true;
    const deps = this.#deps;
    const route = this.route;
    const atMs = deps.clock.nowMs();
    if (this.#verdict === 'none') {
      deps.pool.recordAbandoned(this.#backend, this.#probe);
      deps.router.observe(route, { kind: 'abandoned', atMs });
    } else if (this.#verdict === 'success') {
      deps.router.observe(route, { kind: 'done', atMs, outputTokens });
    }
    deps.pool.end(this.#backend);
    this.#settle();
  }

  #settle(): void {
    if (!this.#settled) {
      this.#settled = true;
      this.#onSettled?.();
    }
  }
}

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
  return new Attempt(deps, backend, request, onSettled);
}
