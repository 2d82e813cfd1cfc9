import { describe, expect, it } from 'vitest';
import { BackendPool, isRoutable, stateOf } from './backend-pool.ts';
import { backendRecord } from './test-backend-record.ts';

describe('BackendPool', () => {
  it('indexes backends by model and keeps runtime state across updates', () => {
    const pool = new BackendPool(2);
    pool.upsert(backendRecord({ id: 'a', models: ['m', 'n'] }));
    pool.upsert(backendRecord({ id: 'b', models: ['n'] }));
    const first = pool.get('a');
    if (!first) {
      throw new Error('backend a expected');
    }
    pool.begin(first);
    pool.upsert(backendRecord({ id: 'a', models: ['n'], slots: 16 }));
    expect(pool.serving('m')).toEqual([]);
    expect(pool.serving('n').map((backend) => backend.record.id)).toEqual(['a', 'b']);
    expect(pool.get('a')?.inFlight).toBe(1);
    expect(pool.get('a')?.record.slots).toBe(16);
  });

  it('marks a backend unhealthy after consecutive failures only', () => {
    const pool = new BackendPool(2);
    pool.upsert(backendRecord({ id: 'a' }));
    const backend = pool.get('a');
    if (!backend) {
      throw new Error('backend a expected');
    }
    pool.recordFailure(backend, 1);
    pool.recordSuccess(backend, 5);
    pool.recordFailure(backend, 2);
    expect(stateOf(backend)).toBe('healthy');
    pool.recordFailure(backend, 3);
    expect(stateOf(backend)).toBe('unhealthy');
    expect(isRoutable(backend)).toBe(false);
    pool.markHealthy(backend);
    expect(isRoutable(backend)).toBe(true);
  });

  it('takes draining and removed backends out of routing', () => {
    const pool = new BackendPool(2);
    pool.upsert(backendRecord({ id: 'a', state: 'draining' }));
    const draining = pool.get('a');
    expect(draining && stateOf(draining)).toBe('draining');
    expect(draining && isRoutable(draining)).toBe(false);
    pool.upsert(backendRecord({ id: 'a', state: 'removed' }));
    expect(pool.get('a')).toBeUndefined();
    expect(pool.serving('m')).toEqual([]);
  });

  it('averages latency with a moving average', () => {
    const pool = new BackendPool(2);
    pool.upsert(backendRecord({ id: 'a' }));
    const backend = pool.get('a');
    if (!backend) {
      throw new Error('backend a expected');
    }
    pool.recordSuccess(backend, 100);
    pool.recordSuccess(backend, 200);
    expect(backend.latencyEwmaMs).toBeCloseTo(120);
  });
});
