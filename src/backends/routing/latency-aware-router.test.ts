import { describe, expect, it } from 'vitest';
import { limitsSchema } from '../../config.ts';
import { createManualClock } from '../../platform/clock.ts';
import { createSeededRandom } from '../../platform/random.ts';
import { startAttempt } from '../attempt-tracker.ts';
import type { BackendPool, PooledBackend } from '../backend-pool.ts';
import { noDecodeTotals } from '../health/scraped-decode.ts';
import { backendRecord, poolWithBackends } from '../test-backend-record.ts';
import {
  createLatencyAwareRouter,
  type LatencyAwareRouterSettings,
} from './latency-aware-router.ts';
import type { RouteRequest, Router } from './router.ts';

const limits = limitsSchema.parse({});

function routeRequest(changes: Partial<RouteRequest> = {}): RouteRequest {
  return {
    model: 'm',
    promptTokens: 200,
    outputTokensAsked: undefined,
    stream: true,
    homeRegion: null,
    prices: undefined,
    ...changes,
  };
}

/**
 * How a simulated backend answers: a first token after `firstTokenMs` and the rest of
 * `outputTokens` (when given) `serviceMs` later, or a failure.
 */
type Behaviour =
  | { firstTokenMs: number; serviceMs: number; outputTokens?: number }
  | { failAfterMs: number };

/**
 * Sends `count` requests, one every `gapMs`, through the router and the attempt tracker, and
 * answers them as `behaviours` say, in virtual time: each backend runs at most its slots at
 * once, the others wait in order. Returns how many each backend got.
 */
function serve(
  setup: {
    pool: BackendPool;
    backends: PooledBackend[];
    clock: ReturnType<typeof createManualClock>;
    router: Router;
  },
  behaviours: Record<string, Behaviour>,
  count: number,
  gapMs: number,
  request: RouteRequest = routeRequest(),
): Map<string, number> {
  const { pool, backends, clock, router } = setup;
  const pending: { atMs: number; run: () => void }[] = [];
  const later = (delayMs: number, run: () => void) => {
    pending.push({ atMs: clock.nowMs() + delayMs, run });
    pending.sort((first, second) => first.atMs - second.atMs);
  };
  const runUntil = (atMs: number) => {
    for (let next = pending[0]; next !== undefined && next.atMs <= atMs; next = pending[0]) {
      pending.shift();
      clock.advanceMs(next.atMs - clock.nowMs());
      next.run();
    }
    clock.advanceMs(atMs - clock.nowMs());
  };
  const running = new Map<string, number>();
  const waiting = new Map<string, (() => void)[]>();
  const whenSlotFree = (backend: PooledBackend, start: () => void) => {
    const id = backend.record.id;
    if ((running.get(id) ?? 0) < backend.record.slots) {
      running.set(id, (running.get(id) ?? 0) + 1);
      start();
    } else {
      waiting.set(id, [...(waiting.get(id) ?? []), start]);
    }
  };
  const freeSlot = (backend: PooledBackend) => {
    const id = backend.record.id;
    const [next, ...rest] = waiting.get(id) ?? [];
    waiting.set(id, rest);
    if (next === undefined) {
      running.set(id, (running.get(id) ?? 1) - 1);
    } else {
      next();
    }
  };
  const picks = new Map<string, number>();
  for (let index = 0; index < count; index += 1) {
    runUntil(clock.nowMs() + gapMs);
    const candidates = backends.filter((backend) => pool.isRoutable(backend, clock.nowMs()));
    const backend = router.pick(request, candidates);
    if (backend === undefined) {
      continue;
    }
    picks.set(backend.record.id, (picks.get(backend.record.id) ?? 0) + 1);
    const attempt = startAttempt({ pool, router, clock }, request, backend);
    const behaviour = behaviours[backend.record.id];
    if (behaviour === undefined || 'failAfterMs' in behaviour) {
      later(behaviour?.failAfterMs ?? 1, () => attempt.fail('unavailable'));
    } else {
      whenSlotFree(backend, () => {
        later(behaviour.firstTokenMs, () => attempt.succeed());
        later(behaviour.firstTokenMs + behaviour.serviceMs, () => {
          attempt.end(behaviour.outputTokens);
          freeSlot(backend);
        });
      });
    }
  }
  runUntil(clock.nowMs() + 60_000);
  return picks;
}

function setUp(
  records: Parameters<typeof poolWithBackends>[0],
  liveReplicaCount = 2,
  seed = 7,
  settings: LatencyAwareRouterSettings = limits,
) {
  const { pool, backends } = poolWithBackends(records);
  // The other replicas' counts are heard and they send nothing here: only the draw is theirs.
  pool.recordPeerLoad(new Map());
  const clock = createManualClock(1_000_000);
  const router = createLatencyAwareRouter({
    clock,
    random: createSeededRandom(seed),
    settings,
    liveReplicaCount: () => liveReplicaCount,
  });
  for (const backend of backends) {
    backend.estimates.rttMs = 2;
  }
  return { pool, backends, clock, router };
}

describe('latency-aware router', () => {
  it('sends most requests to the backend that answers first', () => {
    const setup = setUp(['fast', 'medium', 'slow'].map((id) => backendRecord({ id })));
    const picks = serve(
      setup,
      {
        fast: { firstTokenMs: 40, serviceMs: 400 },
        medium: { firstTokenMs: 150, serviceMs: 400 },
        slow: { firstTokenMs: 500, serviceMs: 400 },
      },
      600,
      50,
    );
    const fast = picks.get('fast') ?? 0;
    expect(fast).toBeGreaterThan(360);
    expect(fast).toBeGreaterThan(picks.get('medium') ?? 0);
    expect(picks.get('medium') ?? 0).toBeGreaterThan(picks.get('slow') ?? 0);
  });

  it('does not take a backend that fails in 5 ms for a fast one', () => {
    const setup = setUp([backendRecord({ id: 'failing' }), backendRecord({ id: 'healthy' })]);
    const picks = serve(
      setup,
      { failing: { failAfterMs: 5 }, healthy: { firstTokenMs: 300, serviceMs: 200 } },
      400,
      100,
    );
    expect(picks.get('failing') ?? 0).toBeLessThan(400 * 0.1);
  });

  it('spreads load by capacity when one backend fills up', () => {
    const setup = setUp([
      backendRecord({ id: 'big', slots: 16 }),
      backendRecord({ id: 'small', slots: 4 }),
    ]);
    const picks = serve(
      setup,
      {
        big: { firstTokenMs: 50, serviceMs: 2_000 },
        small: { firstTokenMs: 50, serviceMs: 2_000 },
      },
      400,
      100,
    );
    // 20 slots of 2 s each at 10 requests per second: both are needed, the big one more.
    const big = picks.get('big') ?? 0;
    const small = picks.get('small') ?? 0;
    expect(small).toBeGreaterThan(30);
    expect(big).toBeGreaterThan(small);
  });

  it('keeps a tenant at home until another region is clearly cheaper', () => {
    const setup = setUp([
      backendRecord({ id: 'home', region: 'east' }),
      backendRecord({ id: 'away', region: 'west' }),
    ]);
    const [home, away] = setup.backends;
    if (home === undefined || away === undefined) {
      throw new Error('two backends expected');
    }
    home.estimates.rttMs = 2;
    away.estimates.rttMs = 80;
    const request = routeRequest({ homeRegion: 'east' });
    const nowMs = setup.clock.nowMs();
    for (const backend of setup.backends) {
      backend.estimates.lastAttemptAtMs = nowMs;
    }
    setup.pool.recordScrape(
      home,
      { engine: 'vllm', running: 7, waiting: 0, kvCacheUsage: 0.5, decoding: noDecodeTotals },
      nowMs,
    );
    setup.pool.recordScrape(
      away,
      { engine: 'vllm', running: 0, waiting: 0, kvCacheUsage: 0, decoding: noDecodeTotals },
      nowMs,
    );
    // Home is busy but has a free slot: the far region is not clearly cheaper.
    expect(setup.router.pick(request, setup.backends)).toBe(home);
    setup.pool.recordScrape(
      home,
      { engine: 'vllm', running: 8, waiting: 12, kvCacheUsage: 1, decoding: noDecodeTotals },
      nowMs,
    );
    expect(setup.router.pick(request, setup.backends)).toBe(away);
    expect(setup.router.regionPreferences?.()).toEqual([
      { model: 'm', homeRegion: 'east', mode: 'home', sinceMs: nowMs },
    ]);
  });

  it('takes the cheapest outright only with fresh metrics and a single gateway', () => {
    const records = ['a', 'b', 'c', 'd', 'e'].map((id) => backendRecord({ id }));
    const request = routeRequest({ promptTokens: 100 });
    const count = (replicas: number, settings = limits) => {
      const setup = setUp(records, replicas, 3, settings);
      const nowMs = setup.clock.nowMs();
      for (const [index, backend] of setup.backends.entries()) {
        backend.estimates.lastAttemptAtMs = nowMs;
        const running = index === 2 ? 0 : 8;
        setup.pool.recordScrape(
          backend,
          {
            engine: 'vllm',
            running,
            waiting: running,
            kvCacheUsage: 0.5,
            decoding: noDecodeTotals,
          },
          nowMs,
        );
      }
      let cheapest = 0;
      for (let index = 0; index < 200; index += 1) {
        cheapest += setup.router.pick(request, setup.backends)?.record.id === 'c' ? 1 : 0;
      }
      return cheapest;
    };
    expect(count(1)).toBe(200);
    // With several gateways: the cheaper of two drawn at random, so 'c' only when it is drawn.
    const drawn = count(3);
    expect(drawn).toBeGreaterThan(40);
    expect(drawn).toBeLessThan(140);
    // The configured count, when there is one, wins over the live one.
    expect(count(3, { ...limits, gatewayReplicaCount: 1 })).toBe(200);
    expect(count(1, { ...limits, gatewayReplicaCount: 3 })).toBe(drawn);
  });

  it('sends a half-open circuit its probe before anything else', () => {
    const setup = setUp([backendRecord({ id: 'a' }), backendRecord({ id: 'b' })]);
    const [probed] = setup.backends;
    if (probed === undefined) {
      throw new Error('a backend expected');
    }
    probed.breaker.state = 'open';
    probed.breaker.openUntilMs = setup.clock.nowMs();
    expect(setup.router.pick(routeRequest(), setup.backends)).toBe(probed);
    expect(probed.breaker.state).toBe('half_open');
  });

  it('learns prefill speed, service time and its own error from streams', () => {
    const setup = setUp([backendRecord({ id: 'only' })]);
    serve(
      setup,
      { only: { firstTokenMs: 102, serviceMs: 1_000 } },
      20,
      2_000,
      routeRequest({ promptTokens: 1_000 }),
    );
    const learned = setup.backends[0]?.estimates.byModel.get('m');
    // 1,000 tokens in 100 ms (the round trip is 2 ms): 10,000 tokens/s.
    expect(learned?.prefillTokensPerSecond).toBeCloseTo(10_000, -2);
    expect(learned?.serviceMs).toBeCloseTo(1_100, -1);
    expect(learned?.firstTokenCount).toBe(20);
    expect(Math.abs(learned?.residualLog ?? 1)).toBeLessThan(0.1);
    expect(setup.backends[0]?.estimates.pendingPrefillTokens).toBe(0);
  });

  it('learns the time between tokens and the length of answers from streams', () => {
    const setup = setUp([backendRecord({ id: 'only' })]);
    serve(setup, { only: { firstTokenMs: 50, serviceMs: 1_000, outputTokens: 100 } }, 20, 2_000);
    expect(setup.backends[0]?.estimates.byModel.get('m')?.interTokenMs).toBeCloseTo(10);
  });

  it('sends most requests to the faster decoder when first tokens come equally fast', () => {
    const records = ['fast', 'slow'].map((id) => backendRecord({ id, slots: 16 }));
    const behaviours = {
      fast: { firstTokenMs: 50, serviceMs: 40, outputTokens: 32 },
      slow: { firstTokenMs: 50, serviceMs: 530, outputTokens: 32 },
    };
    const picks = serve(
      setUp(records),
      behaviours,
      300,
      50,
      routeRequest({ outputTokensAsked: 32 }),
    );
    expect(picks.get('fast') ?? 0).toBeGreaterThan(270);
  });

  it('sends a slow decoder traffic only once the fast one is fuller', () => {
    const records = [
      backendRecord({ id: 'fast', slots: 4 }),
      backendRecord({ id: 'slow', slots: 16 }),
    ];
    const behaviours = {
      fast: { firstTokenMs: 50, serviceMs: 400, outputTokens: 32 },
      slow: { firstTokenMs: 50, serviceMs: 1_600, outputTokens: 32 },
    };
    const request = routeRequest({ outputTokensAsked: 32 });
    // 2 requests a second: the fast one alone has room for all of them.
    const light = serve(setUp(records), behaviours, 300, 500, request);
    expect(light.get('slow') ?? 0).toBeLessThan(15);
    // 14 a second: the fast one's 4 slots take 10 a second, the rest must wait or go slow.
    const heavy = serve(setUp(records), behaviours, 600, 70, request);
    expect(heavy.get('slow') ?? 0).toBeGreaterThan(600 * 0.2);
    expect(heavy.get('fast') ?? 0).toBeGreaterThan(heavy.get('slow') ?? 0);
  });

  it('prefers a cheaper region when it costs at most the price margin more time', () => {
    const records = [
      backendRecord({ id: 'dear', region: 'east' }),
      backendRecord({ id: 'cheap', region: 'west' }),
    ];
    const prices = {
      rankByRegion: new Map([
        ['east', 1],
        ['west', 0],
      ]),
      marginMs: 50,
    };
    const pickWith = (cheapRttMs: number, marginMs: number) => {
      const setup = setUp(records, 1);
      const [dear, cheap] = setup.backends;
      if (dear === undefined || cheap === undefined) {
        throw new Error('two backends expected');
      }
      dear.estimates.rttMs = 2;
      cheap.estimates.rttMs = cheapRttMs;
      for (const backend of setup.backends) {
        backend.estimates.lastAttemptAtMs = setup.clock.nowMs();
      }
      return setup.router.pick(routeRequest({ prices: { ...prices, marginMs } }), setup.backends)
        ?.record.id;
    };
    expect(pickWith(30, 50)).toBe('cheap');
    expect(pickWith(80, 50)).toBe('dear');
    // A wider margin (work that can wait) takes the cheaper region further.
    expect(pickWith(80, 500)).toBe('cheap');
    expect(pickWith(30, 0)).toBe('dear');
  });
});
