import { describe, expect, it } from 'vitest';
import { createManualClock } from '../clock.ts';
import { silentLogger } from '../logger.ts';
import {
  createDegradingIdempotencyLocks,
  createMemoryIdempotencyLocks,
  type IdempotencyLocks,
} from './idempotency-locks.ts';
import { createSharedStateHealth } from './shared-state-health.ts';

describe('createMemoryIdempotencyLocks', () => {
  it('holds a name for one lease at a time until released or expired', async () => {
    const clock = createManualClock(0);
    const locks = createMemoryIdempotencyLocks(clock);
    const first = await locks.acquire('topup:ten_a:ref-1', 1_000);
    expect(first).toBeDefined();
    expect(await locks.acquire('topup:ten_a:ref-1', 1_000)).toBeUndefined();
    expect(await locks.acquire('topup:ten_a:ref-2', 1_000)).toBeDefined();
    await first?.release();
    const second = await locks.acquire('topup:ten_a:ref-1', 1_000);
    expect(second).toBeDefined();
    clock.advanceMs(1_000);
    // Expired: someone else may take it, and the old lease can no longer free the new one.
    const third = await locks.acquire('topup:ten_a:ref-1', 1_000);
    expect(third).toBeDefined();
    await second?.release();
    expect(await locks.acquire('topup:ten_a:ref-1', 1_000)).toBeUndefined();
  });
});

describe('createDegradingIdempotencyLocks', () => {
  it("falls back to this process's locks when the shared ones fail", async () => {
    const clock = createManualClock(0);
    const health = createSharedStateHealth({ logger: silentLogger, retryMs: 1_000 });
    const failing: IdempotencyLocks = {
      acquire: () => Promise.reject(new Error('connection refused')),
    };
    const locks = createDegradingIdempotencyLocks({
      shared: failing,
      local: createMemoryIdempotencyLocks(clock),
      health,
      clock,
    });
    expect(await locks.acquire('grant:ten_a:ref', 1_000)).toBeDefined();
    expect(await locks.acquire('grant:ten_a:ref', 1_000)).toBeUndefined();
    expect(health.view('locks')).toEqual({ degraded: true, fallbackCount: 2 });
  });
});
