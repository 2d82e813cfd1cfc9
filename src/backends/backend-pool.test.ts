import { describe, expect, it } from 'vitest';
import { BackendPool, type PooledBackend, stateOf } from './backend-pool.ts';
import { backendRecord, poolSettings, poolWithBackends } from './test-backend-record.ts';

function pooled(pool: BackendPool, id: string): PooledBackend {
  const backend = pool.get(id);
  if (!backend) {
    throw new Error(`backend ${id} expected`);
  }
  return backend;
}

function poolOf(ids: string[], settings = poolSettings()): BackendPool {
  const pool = new BackendPool(settings);
  for (const id of ids) {
    pool.upsert(backendRecord({ id }));
  }
  return pool;
}

describe('BackendPool', () => {
  it('indexes backends by model and keeps runtime state across updates', () => {
    const pool = new BackendPool(poolSettings());
    pool.upsert(backendRecord({ id: 'a', models: ['m', 'n'] }));
    pool.upsert(backendRecord({ id: 'b', models: ['n'] }));
    pool.begin(pooled(pool, 'a'), 0);
    pool.upsert(backendRecord({ id: 'a', models: ['n'], slots: 16 }));
    expect(pool.serving('m')).toEqual([]);
    expect(pool.serving('n').map((backend) => backend.record.id)).toEqual(['a', 'b']);
    expect(pool.get('a')?.inFlight).toBe(1);
    expect(pool.get('a')?.record.slots).toBe(16);
    expect(pool.inFlightTotal).toBe(1);
  });

  it('reconciles with the catalog: new ones join, changed ones update, unlisted ones leave', () => {
    const removed: string[] = [];
    const pool = new BackendPool(poolSettings(), { onRemoved: (id) => removed.push(id) });
    pool.upsert(backendRecord({ id: 'a' }));
    pool.upsert(backendRecord({ id: 'b' }));
    pool.begin(pooled(pool, 'a'), 0);
    pool.reconcile([
      backendRecord({ id: 'a', slots: 32, updatedAtMs: 5 }),
      backendRecord({ id: 'c', models: ['n'] }),
    ]);
    expect(removed).toEqual(['b']);
    expect(pool.get('a')?.record.slots).toBe(32);
    expect(pool.get('a')?.inFlight).toBe(1);
    expect(pool.serving('n').map((backend) => backend.record.id)).toEqual(['c']);
  });

  it('marks a backend unhealthy after consecutive connection failures only', () => {
    const pool = poolOf(['a']);
    const backend = pooled(pool, 'a');
    pool.recordFailure(backend, 'connect', 1);
    pool.recordSuccess(backend, 5);
    pool.recordFailure(backend, 'unavailable', 2);
    pool.recordFailure(backend, 'timeout', 3);
    expect(stateOf(backend)).toBe('healthy');
    pool.recordFailure(backend, 'connect', 4);
    expect(stateOf(backend)).toBe('unhealthy');
    expect(pool.isRoutable(backend, 4)).toBe(false);
    pool.markHealthy(backend);
    expect(pool.isRoutable(backend, 4)).toBe(true);
  });

  it('averages latency with a moving average', () => {
    const pool = poolOf(['a']);
    const backend = pooled(pool, 'a');
    pool.recordSuccess(backend, 100);
    pool.recordSuccess(backend, 200);
    expect(backend.latencyEwmaMs).toBeCloseTo(120);
  });

  it('honours Retry-After up to its limit', () => {
    const pool = poolOf(['a'], poolSettings({ retryAfterMsMax: 5_000 }));
    const backend = pooled(pool, 'a');
    pool.recordFailure(backend, 'rate_limited', 1_000, { retryAfterMs: 60_000 });
    expect(pool.isRoutable(backend, 5_999)).toBe(false);
    expect(pool.isRoutable(backend, 6_000)).toBe(true);
  });

  it('has room below slots times one plus the queue share', () => {
    const pool = new BackendPool(poolSettings({ backendQueueBps: 5_000 }));
    pool.upsert(backendRecord({ id: 'a', slots: 4 }));
    const backend = pooled(pool, 'a');
    for (let count = 0; count < 5; count += 1) {
      expect(pool.hasRoom(backend, 0)).toBe(true);
      pool.begin(backend, 0);
    }
    expect(pool.hasRoom(backend, 0)).toBe(true);
    pool.begin(backend, 0);
    expect(pool.hasRoom(backend, 0)).toBe(false);
  });
});

describe('circuit breaker in the pool', () => {
  const settings = poolSettings({
    breakerFailureCountMax: 3,
    breakerColdFailureCountMax: 3,
    breakerOpenMs: 1_000,
    breakerOpenMsMax: 3_000,
    breakerCloseSuccessCount: 2,
  });

  function failTimes(pool: BackendPool, backend: PooledBackend, count: number, atMs: number) {
    for (let index = 0; index < count; index += 1) {
      pool.recordFailure(backend, 'unavailable', atMs);
    }
  }

  it('opens after failures in a row, probes when half-open, and closes after good probes', () => {
    const pool = poolOf(['a', 'b'], settings);
    const backend = pooled(pool, 'a');
    failTimes(pool, backend, 2, 0);
    expect(stateOf(backend)).toBe('healthy');
    failTimes(pool, backend, 1, 0);
    expect(stateOf(backend)).toBe('open');
    expect(pool.isRoutable(backend, 999)).toBe(false);
    expect(pool.isRoutable(backend, 1_000)).toBe(true);
    expect(backend.breaker.state).toBe('half_open');
    const probe = pool.begin(backend, 1_000);
    expect(probe).toBe(true);
    // One probe at a time.
    expect(pool.isRoutable(backend, 1_000)).toBe(false);
    pool.recordSuccess(backend, 10, probe);
    pool.end(backend);
    expect(backend.breaker.state).toBe('half_open');
    const second = pool.begin(backend, 1_001);
    pool.recordSuccess(backend, 10, second);
    pool.end(backend);
    expect(backend.breaker.state).toBe('closed');
    expect(stateOf(backend)).toBe('healthy');
  });

  it('opens sooner on a backend that failed from its first request on', () => {
    const coldSettings = { ...settings, breakerFailureCountMax: 5, breakerColdFailureCountMax: 2 };
    const pool = poolOf(['cold', 'proven', 'other'], coldSettings);
    const cold = pooled(pool, 'cold');
    failTimes(pool, cold, 2, 0);
    expect(stateOf(cold)).toBe('open');
    const proven = pooled(pool, 'proven');
    pool.recordSuccess(proven, 10);
    failTimes(pool, proven, 4, 0);
    expect(stateOf(proven)).toBe('healthy');
  });

  it('doubles the open time at each failed probe, up to the maximum', () => {
    const pool = poolOf(['a', 'b'], settings);
    const backend = pooled(pool, 'a');
    failTimes(pool, backend, 3, 0);
    const openTimes: number[] = [];
    let nowMs = 0;
    for (let round = 0; round < 4; round += 1) {
      openTimes.push(backend.breaker.openUntilMs - nowMs);
      nowMs = backend.breaker.openUntilMs;
      const probe = pool.begin(backend, nowMs);
      pool.recordFailure(backend, 'unavailable', nowMs, { probe });
      pool.end(backend);
    }
    expect(openTimes).toEqual([1_000, 2_000, 3_000, 3_000]);
  });

  it("never opens more than half of a model's backends", () => {
    const pool = poolOf(['a', 'b', 'c', 'd'], settings);
    for (const id of ['a', 'b', 'c', 'd']) {
      failTimes(pool, pooled(pool, id), 5, 0);
    }
    const open = ['a', 'b', 'c', 'd'].filter((id) => stateOf(pooled(pool, id)) === 'open');
    expect(open).toEqual(['a', 'b']);
    expect(pool.isRoutable(pooled(pool, 'c'), 0)).toBe(true);
  });

  it("never opens the circuit of a model's only backend", () => {
    const pool = poolOf(['a'], settings);
    failTimes(pool, pooled(pool, 'a'), 10, 0);
    expect(stateOf(pooled(pool, 'a'))).toBe('healthy');
  });
});

describe('draining', () => {
  it('keeps a draining backend until its last request ends, then drops it', () => {
    const removed: string[] = [];
    let freed = 0;
    const pool = new BackendPool(poolSettings(), {
      onRemoved: (id) => removed.push(id),
      onCapacityFreed: () => {
        freed += 1;
      },
    });
    pool.upsert(backendRecord({ id: 'a' }));
    const backend = pooled(pool, 'a');
    pool.begin(backend, 0);
    pool.upsert(backendRecord({ id: 'a', state: 'draining' }));
    expect(stateOf(backend)).toBe('draining');
    expect(pool.isRoutable(backend, 0)).toBe(false);
    expect(pool.get('a')).toBe(backend);
    pool.end(backend);
    expect(pool.get('a')).toBeUndefined();
    expect(removed).toEqual(['a']);
    expect(freed).toBe(1);
    // Its model stays known: a request for it has no capacity now, it is not unknown.
    expect(pool.serving('m')).toEqual([]);
    expect(pool.knowsModel('m')).toBe(true);
  });

  it('drops an idle backend at once when it drains, and takes it back when active again', () => {
    const pool = poolOf(['a']);
    pool.upsert(backendRecord({ id: 'a', state: 'draining' }));
    expect(pool.get('a')).toBeUndefined();
    pool.upsert(backendRecord({ id: 'a', state: 'active' }));
    expect(pool.get('a')?.record.state).toBe('active');
    pool.upsert(backendRecord({ id: 'a', state: 'removed' }));
    expect(pool.get('a')).toBeUndefined();
    expect(pool.knowsModel('m')).toBe(false);
  });
});

describe('decode samples from scrapes', () => {
  const page = (running: number, seconds: number, count: number, perToken: boolean) => ({
    engine: 'sglang' as const,
    running,
    waiting: 0,
    kvCacheUsage: 0.1,
    decoding: new Map([['m', { seconds, count, perToken }]]),
  });

  it('takes the batch of per-answer totals from the running counts at both scrapes', () => {
    const { pool, backends } = poolWithBackends([backendRecord({ id: 'a', models: ['m'] })]);
    const [backend] = backends;
    if (backend === undefined) {
      throw new Error('a backend expected');
    }
    pool.recordScrape(backend, page(4, 1, 50, false), 0);
    pool.recordScrape(backend, page(8, 2, 100, false), 1_000);
    const line = backend.estimates.byModel.get('m')?.decodeLine;
    // 1 s over 50 tokens: 20 ms, at a batch of (4 + 8) / 2.
    expect(line?.weight).toBe(1);
    expect(line?.batchSum).toBe(6);
    expect(line?.interTokenSum).toBeCloseTo(20);
  });
});
