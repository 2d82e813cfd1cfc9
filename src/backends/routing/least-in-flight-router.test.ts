import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../platform/clock.ts';
import { createSeededRandom } from '../../platform/random.ts';
import { BackendPool, type PooledBackend } from '../backend-pool.ts';
import { backendRecord, poolSettings } from '../test-backend-record.ts';
import { createLeastInFlightRouter } from './least-in-flight-router.ts';
import type { RouteRequest } from './router.ts';

function poolWith(...slots: number[]): { pool: BackendPool; backends: PooledBackend[] } {
  const pool = new BackendPool(poolSettings());
  slots.forEach((slotCount, index) => {
    pool.upsert(backendRecord({ id: `bkd_${index}`, slots: slotCount }));
  });
  return { pool, backends: [...pool.serving('m')] };
}

const clock = createManualClock(0);

describe('least in-flight router', () => {
  const request: RouteRequest = {
    model: 'm',
    promptTokens: undefined,
    outputTokensAsked: undefined,
    stream: false,
    homeRegion: null,
    prices: undefined,
  };

  it('picks the backend with the fewest requests in flight per slot', () => {
    const { pool, backends } = poolWith(4, 4, 8);
    const [first, second, third] = backends;
    if (!first || !second || !third) {
      throw new Error('three backends expected');
    }
    for (const backend of [first, first, second, third, third]) {
      pool.begin(backend, 0);
    }
    // Loads: 2/4, 1/4, 2/8 -> the second and the third tie at 0.25.
    const router = createLeastInFlightRouter(createSeededRandom(1), clock);
    const picked = new Set<string>();
    for (let index = 0; index < 50; index += 1) {
      picked.add(router.pick(request, backends)?.record.id ?? '');
    }
    expect([...picked].sort()).toEqual(['bkd_1', 'bkd_2']);
  });

  it('spreads equal backends instead of always taking the first', () => {
    const { backends } = poolWith(8, 8, 8);
    const router = createLeastInFlightRouter(createSeededRandom(3), clock);
    const counts = new Map<string, number>();
    for (let index = 0; index < 300; index += 1) {
      const id = router.pick(request, backends)?.record.id ?? '';
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(counts.size).toBe(3);
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(60);
    }
  });

  it('returns nothing when there is no candidate', () => {
    const router = createLeastInFlightRouter(createSeededRandom(1), clock);
    expect(router.pick(request, [])).toBeUndefined();
  });
});
