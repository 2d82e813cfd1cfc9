import { describe, expect, it } from 'vitest';
import { backendRecord, poolSettings, poolWithBackends } from '../test-backend-record.ts';
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
    const { pool, backends } = poolWithBackends(
      ['up', 'still-down', 'erroring', 'never-down'].map((id) => backendRecord({ id })),
      poolSettings({ backendFailureCountMax: 1 }),
    );
    for (const backend of backends.slice(0, 3)) {
      pool.recordFailure(backend, 'connect', 0);
    }
    expect(backends.map((backend) => backend.health)).toEqual([
      'unhealthy',
      'unhealthy',
      'unhealthy',
      'healthy',
    ]);
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
