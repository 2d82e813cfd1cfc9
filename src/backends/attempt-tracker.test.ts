import { describe, expect, it } from 'vitest';
import { createManualClock } from '../platform/clock.ts';
import { startAttempt } from './attempt-tracker.ts';
import {
  type AttemptOutcome,
  plainAttempt,
  type RouteRequest,
  type Router,
} from './routing/router.ts';
import { backendRecord, poolWithBackends } from './test-backend-record.ts';

const request: RouteRequest = {
  model: 'm',
  promptTokens: 10,
  outputTokensAsked: undefined,
  stream: true,
  homeRegion: null,
  prices: undefined,
};

function recordingRouter(clock: { nowMs(): number }) {
  const outcomes: AttemptOutcome['kind'][] = [];
  const router: Router = {
    name: 'recording',
    pick: (_request, candidates) => candidates[0],
    dispatch: (routed, backend) => plainAttempt(routed, backend, clock.nowMs()),
    observe: (_attempt, outcome) => {
      outcomes.push(outcome.kind);
    },
  };
  return { router, outcomes };
}

function setUp() {
  const clock = createManualClock(0);
  const { pool, backends } = poolWithBackends([
    backendRecord({ id: 'a' }),
    backendRecord({ id: 'b' }),
  ]);
  const [backend] = backends;
  if (backend === undefined) {
    throw new Error('a backend expected');
  }
  const { router, outcomes } = recordingRouter(clock);
  return { clock, pool, backend, router, outcomes };
}

describe('attempt tracker', () => {
  it('counts a successful attempt in flight until it ends, and tells the router each step', () => {
    const { clock, pool, backend, router, outcomes } = setUp();
    let settled = 0;
    const attempt = startAttempt({ pool, router, clock }, request, backend, () => {
      settled += 1;
    });
    expect(backend.inFlight).toBe(1);
    clock.advanceMs(40);
    attempt.succeed();
    attempt.succeed();
    expect(backend.latencyEwmaMs).toBe(40);
    // Settled at the first byte: a retry's budget comes back before its stream ends.
    expect(settled).toBe(1);
    attempt.end();
    attempt.end();
    expect(backend.inFlight).toBe(0);
    expect(settled).toBe(1);
    expect(outcomes).toEqual(['first_token', 'done']);
  });

  it('ends a failed attempt at once and records the failure once', () => {
    const { clock, pool, backend, router, outcomes } = setUp();
    const attempt = startAttempt({ pool, router, clock }, request, backend);
    attempt.fail('rate_limited', 2_000);
    attempt.fail('connect');
    attempt.end();
    expect(backend.inFlight).toBe(0);
    expect(backend.retryAfterUntilMs).toBe(2_000);
    expect(backend.consecutiveFailures).toBe(0);
    expect(backend.breaker.consecutiveFailures).toBe(1);
    expect(outcomes).toEqual(['failed']);
  });

  it('counts an attempt ended without a verdict as abandoned, freeing a half-open probe', () => {
    const { clock, pool, backend, router, outcomes } = setUp();
    backend.breaker.state = 'half_open';
    const attempt = startAttempt({ pool, router, clock }, request, backend);
    expect(backend.breaker.probesInFlight).toBe(1);
    attempt.end();
    expect(backend.breaker.probesInFlight).toBe(0);
    expect(backend.breaker.state).toBe('half_open');
    expect(outcomes).toEqual(['abandoned']);
  });
});
