import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Bucket, createMemoryCounterStore } from './counter-store.ts';

const perMinute = (capacity: number, key = 'rpm:key_a'): Bucket => ({
  key,
  capacity,
  refillPeriodMs: 60_000,
});

describe('createMemoryCounterStore', () => {
  it('lets a burst take exactly the capacity, then says when the next one fits', async () => {
    const store = createMemoryCounterStore(100);
    const bucket = perMinute(60);
    const results = await Promise.all(Array.from({ length: 100 }, () => store.take(bucket, 1, 0)));
    expect(results.filter((result) => result.ok)).toHaveLength(60);
    // 60 a minute refill one a second.
    expect(results.at(-1)).toEqual({ ok: false, retryAfterMs: 1000 });
    expect(await store.take(bucket, 1, 999)).toMatchObject({ ok: false });
    expect(await store.take(bucket, 1, 1000)).toEqual({ ok: true });
  });

  it('never takes part of an amount: a refused take leaves the bucket as it was', async () => {
    const store = createMemoryCounterStore(100);
    const bucket = perMinute(1000, 'tpm:key_a');
    expect(await store.take(bucket, 700, 0)).toEqual({ ok: true });
    expect(await store.take(bucket, 400, 0)).toEqual({ ok: false, retryAfterMs: 6000 });
    expect(await store.take(bucket, 300, 0)).toEqual({ ok: true });
  });

  it('takes back what a reservation did not use, never above capacity, and lets usage overdraw', async () => {
    const store = createMemoryCounterStore(100);
    const bucket = perMinute(100, 'tpm:key_a');
    await store.take(bucket, 100, 0);
    await store.give(bucket, 500, 0);
    expect(await store.take(bucket, 100, 0)).toEqual({ ok: true });
    expect(await store.take(bucket, 1, 0)).toMatchObject({ ok: false });
    // Used 50 more than reserved: the debt is waited out (150 to refill = 90 s).
    await store.give(bucket, -50, 0);
    expect(await store.take(bucket, 100, 0)).toEqual({ ok: false, retryAfterMs: 90_000 });
  });

  it('keeps keys apart', async () => {
    const store = createMemoryCounterStore(100);
    expect(await store.take(perMinute(1, 'rpm:a'), 1, 0)).toEqual({ ok: true });
    expect(await store.take(perMinute(1, 'rpm:b'), 1, 0)).toEqual({ ok: true });
    expect(await store.take(perMinute(1, 'rpm:a'), 1, 0)).toMatchObject({ ok: false });
  });

  it('bounds concurrency per key and never counts below zero', async () => {
    const store = createMemoryCounterStore(100);
    expect(await store.acquire('streams:a', 2)).toBe(true);
    expect(await store.acquire('streams:a', 2)).toBe(true);
    expect(await store.acquire('streams:a', 2)).toBe(false);
    expect(await store.acquire('streams:b', 2)).toBe(true);
    await store.release('streams:a');
    await store.release('streams:a');
    await store.release('streams:a');
    expect(await store.acquire('streams:a', 2)).toBe(true);
    expect(await store.acquire('streams:a', 2)).toBe(true);
    expect(await store.acquire('streams:a', 2)).toBe(false);
  });

  it('drops refilled buckets past its bound and keeps the ones still owed', async () => {
    const store = createMemoryCounterStore(2);
    await store.take(perMinute(10, 'a'), 10, 0);
    await store.take(perMinute(10, 'b'), 10, 0);
    await store.take(perMinute(10, 'c'), 10, 60_000);
    // a and b refilled by 60 s and were dropped: both are full again, c is still empty.
    expect(await store.take(perMinute(10, 'a'), 10, 60_000)).toEqual({ ok: true });
    expect(await store.take(perMinute(10, 'c'), 1, 60_000)).toMatchObject({ ok: false });
  });

  it('never admits more than capacity plus refill over any sequence of takes and gives', () => {
    fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1000 }),
        fc.array(
          fc.record({
            advanceMs: fc.integer({ min: 0, max: 5000 }),
            amount: fc.integer({ min: 1, max: 200 }),
            giveBack: fc.integer({ min: 0, max: 200 }),
          }),
          { maxLength: 60 },
        ),
        async (capacity, steps) => {
          const store = createMemoryCounterStore(10);
          const bucket = perMinute(capacity);
          let atMs = 0;
          let takenNet = 0;
          for (const step of steps) {
            atMs += step.advanceMs;
            const result = await store.take(bucket, step.amount, atMs);
            if (result.ok) {
              const returned = Math.min(step.giveBack, step.amount);
              takenNet += step.amount - returned;
              await store.give(bucket, returned, atMs);
            } else {
              expect(result.retryAfterMs).toBeGreaterThan(0);
            }
            expect(takenNet).toBeLessThanOrEqual(capacity + (atMs * capacity) / 60_000 + 1e-9);
          }
        },
      ),
      { seed: 6, numRuns: 300 },
    );
  });
});
