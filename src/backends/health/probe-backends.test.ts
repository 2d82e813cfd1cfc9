import { describe, expect, it } from 'vitest';
import { BackendPool } from '../backend-pool.ts';
import { backendRecord, poolSettings } from '../test-backend-record.ts';
import { type Upstream, UpstreamError } from '../upstream/upstream.ts';
import { probeUnhealthyBackends } from './probe-backends.ts';

function upstreamAnswering(
  statusById: Record<string, number | 'refuse'>,
): Upstream & { paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    async send(target, request) {
      paths.push(`${target.id} ${request.method} ${request.path}`);
      const status = statusById[target.id];
      if (status === 'refuse' || status === undefined) {
        throw new UpstreamError('connect', 'connection refused');
      }
      return { status, headers: {}, body: new Response('{}').body ?? new ReadableStream() };
    },
    forget() {},
    async close() {},
  };
}

describe('probeUnhealthyBackends', () => {
  it('asks only unhealthy backends for /models and restores those that answer 2xx', async () => {
    const pool = new BackendPool(poolSettings({ backendFailureCountMax: 1 }));
    for (const id of ['up', 'still-down', 'erroring', 'never-down']) {
      pool.upsert(backendRecord({ id }));
    }
    for (const id of ['up', 'still-down', 'erroring']) {
      const backend = pool.get(id);
      if (backend) {
        pool.recordFailure(backend, 'connect', 0);
      }
    }
    const upstream = upstreamAnswering({ up: 200, 'still-down': 'refuse', erroring: 500 });
    await probeUnhealthyBackends(pool, upstream, 1000);
    expect(upstream.paths.sort()).toEqual([
      'erroring GET /models',
      'still-down GET /models',
      'up GET /models',
    ]);
    expect(pool.get('up')?.health).toBe('healthy');
    expect(pool.get('still-down')?.health).toBe('unhealthy');
    expect(pool.get('erroring')?.health).toBe('unhealthy');
  });
});
