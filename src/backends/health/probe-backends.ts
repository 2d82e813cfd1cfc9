/**
 * Brings unhealthy backends back: each is asked for `GET {url}/models`, and a 2xx answer within
 * the probe timeout returns it to the pool. The runtime decides how often this runs.
 */
import type { BackendPool } from '../backend-pool.ts';
import type { Upstream } from '../upstream/upstream.ts';

export async function probeUnhealthyBackends(
  pool: BackendPool,
  upstream: Upstream,
  timeoutMs: number,
): Promise<void> {
  const unhealthy = pool.all().filter((backend) => backend.health === 'unhealthy');
  await Promise.all(
    unhealthy.map(async (backend) => {
      try {
        const response = await upstream.send(backend.record, {
          method: 'GET',
          path: '/models',
          headers: { accept: 'application/json' },
          body: undefined,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body.cancel();
        if (response.status >= 200 && response.status < 300) {
          pool.markHealthy(backend);
        }
      } catch {
        // Still down: it stays out of the pool until a later probe passes.
      }
    }),
  );
}
