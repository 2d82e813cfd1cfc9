import { describe, expect, it } from 'vitest';
import { noDecodeTotals } from '../health/scraped-decode.ts';
import { backendRecord, poolWithBackends } from '../test-backend-record.ts';
import { recordRateSample } from './decaying-average.ts';
import {
  type CostSettings,
  expectedOutputTokens,
  failurePenaltyMs,
  type ModelPrior,
  predictTtftMs,
  weightedDecodeMs,
} from './route-cost.ts';
import type { RouteRequest } from './router.ts';

const prior: ModelPrior = {
  serviceMs: 1_000,
  prefillTokensPerSecond: 1_000,
  firstTokenMs: 200,
  residualLog: 0,
  interTokenMs: 20,
  outputTokens: 150,
};
const settings: CostSettings = {
  metricsStaleMs: 1_000,
  failureHalfLifeMs: 10_000,
  correctScrapedLoad: true,
  streamDecodeWeightBps: 5_000,
};
const request: RouteRequest = {
  model: 'm',
  promptTokens: 100,
  outputTokensAsked: undefined,
  stream: true,
  homeRegion: null,
  prices: undefined,
};

function backendWith(slots: number) {
  const { pool, backends } = poolWithBackends([backendRecord({ slots })]);
  const [backend] = backends;
  if (backend === undefined) {
    throw new Error('a backend expected');
  }
  backend.estimates.rttMs = 20;
  return { pool, backend };
}

describe('predicted time to first token', () => {
  it('is round trip plus prefill while a slot is free', () => {
    const { backend } = backendWith(4);
    // 20 ms + 100 tokens at 1,000 tokens/s.
    expect(predictTtftMs(backend, request, prior, 0, settings)).toBeCloseTo(120);
  });

  it('adds a share of the service time for each request ahead in the queue', () => {
    const { pool, backend } = backendWith(4);
    pool.recordScrape(
      backend,
      { engine: 'vllm', running: 4, waiting: 2, kvCacheUsage: 0.5, decoding: noDecodeTotals },
      0,
    );
    // Occupancy 6 on 4 slots: 3 requests to wait for (including this one), 250 ms each.
    expect(predictTtftMs(backend, request, prior, 0, settings)).toBeCloseTo(20 + 750 + 100);
  });

  it('counts prompts sent and not yet prefilled, and KV pressure near a full cache', () => {
    const { pool, backend } = backendWith(64);
    backend.estimates.pendingPrefillTokens = 900;
    expect(predictTtftMs(backend, request, prior, 0, settings)).toBeCloseTo(20 + 1_000);
    pool.recordScrape(
      backend,
      { engine: 'vllm', running: 1, waiting: 0, kvCacheUsage: 1, decoding: noDecodeTotals },
      0,
    );
    // Full cache: pressure 1 + 2 x (1 - 0.85) / 0.15 = 3.
    expect(predictTtftMs(backend, request, prior, 0, settings)).toBeCloseTo(20 + 3_000);
  });

  it('applies what the backend taught about its predictions', () => {
    const { backend } = backendWith(4);
    backend.estimates.byModel.set('m', {
      serviceMs: 1_000,
      prefillTokensPerSecond: 500,
      interTokenMs: undefined,
      residualLog: Math.log(2),
      residualAtMs: 0,
      firstTokenCount: 5,
    });
    // 100 tokens at 500 tokens/s = 200 ms, doubled; the residual halves every 10 s.
    expect(predictTtftMs(backend, request, prior, 0, settings)).toBeCloseTo(20 + 400);
    expect(predictTtftMs(backend, request, prior, 10_000, settings)).toBeCloseTo(
      20 + 200 * 2 ** 0.5,
    );
  });
});

describe('predicted decode time', () => {
  it("expects the request's cap, or the model's average answer when that is shorter", () => {
    expect(expectedOutputTokens(request, prior)).toBe(150);
    expect(expectedOutputTokens({ ...request, outputTokensAsked: 32 }, prior)).toBe(32);
    expect(expectedOutputTokens({ ...request, outputTokensAsked: 4_096 }, prior)).toBe(150);
    expect(expectedOutputTokens({ ...request, outputTokensAsked: 0 }, prior)).toBe(0);
  });

  it("prices the tokens at the backend's own inter-token latency, the pool's until it has one", () => {
    const { backend } = backendWith(4);
    const json = { ...request, stream: false };
    // 150 tokens at the pool's 20 ms.
    expect(weightedDecodeMs(backend, json, 150, prior, settings)).toBeCloseTo(3_000);
    backend.estimates.byModel.set('m', {
      serviceMs: undefined,
      prefillTokensPerSecond: undefined,
      interTokenMs: 75,
      residualLog: 0,
      residualAtMs: 0,
      firstTokenCount: 0,
    });
    expect(weightedDecodeMs(backend, json, 150, prior, settings)).toBeCloseTo(11_250);
    // A stream counts half of it (streamDecodeWeightBps 5,000).
    expect(weightedDecodeMs(backend, request, 150, prior, settings)).toBeCloseTo(5_625);
  });
});

describe('failure penalty', () => {
  it('is zero without failures', () => {
    const { backend } = backendWith(4);
    expect(failurePenaltyMs(backend, 120, 0, settings)).toBe(0);
  });

  it('makes a backend that fails in 5 ms cost a retry elsewhere per failure', () => {
    const { backend } = backendWith(4);
    for (let index = 0; index < 9; index += 1) {
      recordRateSample(backend.estimates.failures, true, 0, settings.failureHalfLifeMs);
    }
    backend.estimates.failureLatencyMs = 5;
    // Rate 9 / (9 + 1) = 0.9: odds 9, each failure costs 5 ms plus a first token elsewhere.
    expect(failurePenaltyMs(backend, 200, 0, settings)).toBeCloseTo(9 * (5 + 200));
  });
});
