import { describe, expect, it } from 'vitest';
import type { RouteAttempt } from '../routing/router.ts';
import { backendRecord, poolWithBackends } from '../test-backend-record.ts';
import { failureOfStatus, firstTokenDeadlineMs, retryAfterMsOf } from './attempt-failure.ts';

const limits = { firstTokenTimeoutMinMs: 2_000, firstTokenTimeoutMaxMs: 30_000 };

const [backend] = poolWithBackends([backendRecord()]).backends;

function attempt(stream: boolean, predictedTtftMs: number | undefined): RouteAttempt {
  if (backend === undefined) {
    throw new Error('a backend expected');
  }
  return {
    backend,
    request: {
      model: 'm',
      promptTokens: 10,
      outputTokensAsked: undefined,
      stream,
      homeRegion: null,
      prices: undefined,
    },
    dispatchedAtMs: 0,
    predictedTtftMs,
    queuedAtDispatch: false,
    firstTokenAtMs: undefined,
  };
}

describe('attempt failures', () => {
  it.each([
    [429, 'rate_limited'],
    [503, 'unavailable'],
    [500, 'server_error'],
    [504, 'server_error'],
  ] as const)('status %i is %s', (status, failure) => {
    expect(failureOfStatus(status)).toBe(failure);
  });

  it('reads Retry-After in seconds or as a date', () => {
    const nowMs = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(retryAfterMsOf('10', nowMs)).toBe(10_000);
    expect(retryAfterMsOf(' 0 ', nowMs)).toBe(0);
    expect(retryAfterMsOf('Thu, 01 Jan 2026 00:00:30 GMT', nowMs)).toBe(30_000);
    expect(retryAfterMsOf('Wed, 31 Dec 2025 23:00:00 GMT', nowMs)).toBe(0);
    expect(retryAfterMsOf('soon', nowMs)).toBeUndefined();
    expect(retryAfterMsOf(undefined, nowMs)).toBeUndefined();
  });

  it('gives a stream 2.5 times its predicted first token, within the bounds', () => {
    expect(firstTokenDeadlineMs(attempt(true, 2_000), limits)).toBe(5_000);
    expect(firstTokenDeadlineMs(attempt(true, 10), limits)).toBe(2_000);
    expect(firstTokenDeadlineMs(attempt(true, 60_000), limits)).toBe(30_000);
    expect(firstTokenDeadlineMs(attempt(true, undefined), limits)).toBe(30_000);
  });

  it('gives a buffered answer no first-token deadline', () => {
    expect(firstTokenDeadlineMs(attempt(false, 100), limits)).toBeUndefined();
  });
});
