/**
 * Wall-clock cost of one routing decision with 64 candidates, measured in this Node process on
 * real time (not simulated): a pool of 64 backends in 4 regions with learned estimates and fresh
 * scraped load, a request with a home region, and `pick` called in a loop. Reports the median of
 * per-batch means, so one GC pause does not decide the number.
 */
import { BackendPool, type PooledBackend } from '../../src/backends/backend-pool.ts';
import { noDecodeTotals } from '../../src/backends/health/scraped-decode.ts';
import { modelEstimatesOf } from '../../src/backends/routing/backend-estimates.ts';
import { recordDecodeSample } from '../../src/backends/routing/batch-decode-line.ts';
import { createLatencyAwareRouter } from '../../src/backends/routing/latency-aware-router.ts';
import { createLeastInFlightRouter } from '../../src/backends/routing/least-in-flight-router.ts';
import type { RouteRequest, Router } from '../../src/backends/routing/router.ts';
import { limitsSchema } from '../../src/config.ts';
import { createSeededRandom } from '../../src/platform/random.ts';
import {
  createLiteLlmLatencyRouter,
  createPeakEwmaRouter,
  createRoundRobinRouter,
} from './baseline-routers.ts';
import { percentile } from './statistics.ts';

export type DecisionCost = { router: string; medianMicros: number };

const backendCount = 64;
const regions = ['us-east', 'eu-west', 'ap-south', 'sa-east'];

function warmPool(nowMs: number): { pool: BackendPool; candidates: PooledBackend[] } {
  const limits = limitsSchema.parse({});
  const pool = new BackendPool(limits);
  const random = createSeededRandom(5);
  for (let index = 0; index < backendCount; index += 1) {
    pool.upsert({
      id: `bkd_${index}`,
      providerId: 'prv',
      url: `http://b${index}.bench/v1`,
      region: regions[index % regions.length] ?? 'us-east',
      models: ['m'],
      slots: [16, 32, 64][index % 3] ?? 32,
      accelerators: 1,
      accelerator: null,
      apiKey: null,
      metricsUrl: null,
      state: 'active',
      createdAtMs: 0,
      updatedAtMs: 0,
    });
  }
  const candidates = [...pool.serving('m')];
  for (const backend of candidates) {
    pool.recordScrape(
      backend,
      {
        engine: 'vllm',
        running: Math.floor(random() * backend.record.slots),
        waiting: Math.floor(random() * 4),
        kvCacheUsage: random(),
        decoding: noDecodeTotals,
      },
      nowMs,
    );
    backend.estimates.rttMs = 1 + random() * 150;
    const estimates = modelEstimatesOf(backend.estimates, 'm');
    estimates.interTokenMs = 5 + random() * 60;
    for (let sample = 0; sample < 8; sample += 1) {
      const batch = random() * backend.record.slots;
      recordDecodeSample(estimates.decodeLine, batch, 5 + batch * random(), nowMs);
    }
  }
  return { pool, candidates };
}

function measure(router: Router, candidates: readonly PooledBackend[]): number {
  const request: RouteRequest = {
    model: 'm',
    promptTokens: 700,
    outputTokensAsked: undefined,
    stream: true,
    homeRegion: 'eu-west',
    prices: undefined,
  };
  const batchSize = 2_000;
  const batchMeans: number[] = [];
  for (let batch = 0; batch < 30; batch += 1) {
    const startedMs = performance.now();
    for (let index = 0; index < batchSize; index += 1) {
      router.pick(request, candidates);
    }
    batchMeans.push(((performance.now() - startedMs) * 1000) / batchSize);
  }
  return percentile(batchMeans.slice(5), 0.5);
}

export function measureDecisionCosts(): DecisionCost[] {
  const nowMs = 1_000_000;
  const clock = { nowMs: () => nowMs };
  const { candidates } = warmPool(nowMs);
  const limits = limitsSchema.parse({ metricsStaleMs: 3_600_000 });
  const random = createSeededRandom(9);
  const routers: Router[] = [
    createRoundRobinRouter(clock),
    createLeastInFlightRouter(random, clock),
    createLiteLlmLatencyRouter(random, clock),
    createPeakEwmaRouter(random, clock),
    createLatencyAwareRouter({
      clock,
      random,
      settings: limits,
      liveReplicaCount: () => 4,
      name: 'ours (P2C, 4 replicas)',
    }),
    createLatencyAwareRouter({
      clock,
      random,
      settings: limits,
      liveReplicaCount: () => 1,
      name: 'ours (argmin, 1 replica, fresh metrics)',
    }),
  ];
  return routers.map((router) => ({
    router: router.name,
    medianMicros: measure(router, candidates),
  }));
}
