import { describe, expect, it } from 'vitest';
import { createManualClock } from '../clock.ts';
import type { LogLevel } from '../logger.ts';
import { type Bucket, type CounterStore, createMemoryCounterStore } from './counter-store.ts';
import { createDegradingCounterStore } from './degrading-counter-store.ts';
import { createSharedStateHealth } from './shared-state-health.ts';

const bucket: Bucket = { key: 'rpm:key_a', capacity: 2, refillPeriodMs: 60_000 };

/** A shared store that works or fails on command, counting the calls that reached it. */
function switchableStore() {
  const inner = createMemoryCounterStore(100);
  const state = { down: false, calls: 0 };
  const guard = <Result>(call: () => Promise<Result>) => {
    state.calls += 1;
    return state.down ? Promise.reject(new Error('connection refused')) : call();
  };
  const store: CounterStore = {
    take: (b, amount, atMs) => guard(() => inner.take(b, amount, atMs)),
    give: (b, amount, atMs) => guard(() => inner.give(b, amount, atMs)),
    acquire: (key, countMax) => guard(() => inner.acquire(key, countMax)),
    release: (key) => guard(() => inner.release(key)),
  };
  return { store, state };
}

function setUp() {
  const clock = createManualClock(0);
  const events: { level: LogLevel; event: string }[] = [];
  const health = createSharedStateHealth({
    logger: { log: (level, event) => events.push({ level, event }) },
    retryMs: 1_000,
  });
  const shared = switchableStore();
  const store = createDegradingCounterStore({
    shared: shared.store,
    local: createMemoryCounterStore(100),
    health,
    clock,
  });
  return { clock, events, health, shared, store };
}

describe('createDegradingCounterStore', () => {
  it('uses the shared store while it answers', async () => {
    const { store, shared, health } = setUp();
    expect(await store.take(bucket, 2, 0)).toEqual({ ok: true });
    expect(await store.take(bucket, 1, 0)).toMatchObject({ ok: false });
    expect(shared.state.calls).toBe(2);
    expect(health.view('counters')).toEqual({ degraded: false, fallbackCount: 0 });
  });

  it('falls back to local counters, logs once, pauses retries, and resumes when it answers', async () => {
    const { store, shared, health, clock, events } = setUp();
    shared.state.down = true;
    // The local bucket is full: limits hold per replica while degraded.
    expect(await store.take(bucket, 2, 0)).toEqual({ ok: true });
    expect(await store.take(bucket, 1, 0)).toMatchObject({ ok: false });
    expect(shared.state.calls).toBe(1);
    expect(health.view('counters')).toEqual({ degraded: true, fallbackCount: 2 });
    expect(events).toEqual([{ level: 'warn', event: 'shared_state_degraded' }]);

    shared.state.down = false;
    clock.advanceMs(999);
    await store.take(bucket, 1, clock.nowMs());
    expect(shared.state.calls).toBe(1);
    clock.advanceMs(1);
    expect(await store.take(bucket, 2, clock.nowMs())).toEqual({ ok: true });
    expect(shared.state.calls).toBe(2);
    expect(health.view('counters').degraded).toBe(false);
    expect(events.at(-1)).toEqual({ level: 'info', event: 'shared_state_restored' });
  });

  it('releases a stream slot where it was acquired', async () => {
    const { store, shared, clock } = setUp();
    expect(await store.acquire('streams:a', 1)).toBe(true);
    shared.state.down = true;
    // Locally: one slot of this replica's own.
    expect(await store.acquire('streams:a', 1)).toBe(true);
    expect(await store.acquire('streams:a', 1)).toBe(false);
    shared.state.down = false;
    clock.advanceMs(1_000);
    const callsBefore = shared.state.calls;
    await store.release('streams:a');
    // The local slot went back locally; the shared one is still held.
    expect(shared.state.calls).toBe(callsBefore);
    expect(await store.acquire('streams:a', 1)).toBe(false);
    await store.release('streams:a');
    expect(await store.acquire('streams:a', 1)).toBe(true);
  });
});
