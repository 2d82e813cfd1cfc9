import { describe, expect, it } from 'vitest';
import { noDecodeTotals } from '../health/scraped-decode.ts';
import { backendRecord, poolWithBackends } from '../test-backend-record.ts';
import { modelEstimatesOf } from './backend-estimates.ts';
import { createBatchDecodeLine, recordDecodeSample } from './batch-decode-line.ts';
import { recordRateSample } from './decaying-average.ts';
import {
  type CostSettings,
  delayToOthersMs,
  expectedOutputTokens,
  failurePenaltyMs,
  loadNowOf,
  type ModelPrior,
  predictTtftMs,
  queueDelayToOthersMs,
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
  delayToOthers: true,
  replicaCount: 1,
};
const request: RouteRequest = {
  model: 'm',
  promptTokens: 100,
  outputTokensAsked: undefined,
  stream: true,
  homeRegion: null,
  prices: undefined,
};
const request500: RouteRequest = { ...request, promptTokens: 500 };

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
      decodeLine: createBatchDecodeLine(),
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
    const json = { ...request, stream: false, promptTokens: 0 };
    // 150 tokens at the pool's 20 ms; nothing decodes there, so nobody else is delayed.
    expect(weightedDecodeMs(backend, json, 150, prior, 0, settings)).toBeCloseTo(3_000);
    modelEstimatesOf(backend.estimates, 'm').interTokenMs = 75;
    expect(weightedDecodeMs(backend, json, 150, prior, 0, settings)).toBeCloseTo(11_250);
    // A stream counts half of it (streamDecodeWeightBps 5,000).
    expect(
      weightedDecodeMs(backend, { ...json, stream: true }, 150, prior, 0, settings),
    ).toBeCloseTo(5_625);
  });

  it('prices the tokens on the decode line at the batch with the request in it', () => {
    const { pool, backend } = backendWith(64);
    const line = modelEstimatesOf(backend.estimates, 'm').decodeLine;
    // 10 ms + 0.5 ms per sequence decoding, sampled at 2 to 20 sequences.
    for (const batch of [2, 5, 8, 11, 14, 17, 20]) {
      recordDecodeSample(line, batch, 10 + 0.5 * batch, 1_000);
    }
    pool.recordScrape(
      backend,
      { engine: 'vllm', running: 9, waiting: 0, kvCacheUsage: 0.2, decoding: noDecodeTotals },
      1_000,
    );
    const json = { ...request, stream: false, promptTokens: 0 };
    const alone = { ...settings, delayToOthers: false };
    // 9 decoding, this one the 10th: 100 tokens at 10 + 0.5 x 10 = 15 ms (the ridge shaves the
    // slope a little).
    expect(weightedDecodeMs(backend, json, 100, prior, 1_000, alone)).toBeCloseTo(1_500, -1);
    // Each of the 9 waits 0.5 ms longer for half of those 100 tokens.
    expect(weightedDecodeMs(backend, json, 100, prior, 1_000, settings)).toBeCloseTo(
      1_500 + 9 * 0.5 * 50,
      -1,
    );
  });
});

describe('delay to the answers already on the backend', () => {
  const fit = { baseMs: 10, perSequenceMs: 0.4 };

  it("is the prompt's prefill stall and the slope over the shared tokens, for each of them", () => {
    // 500 tokens at 1,000 tokens/s stall each of 6 for 500 ms; 200 x 0.4 / 2 = 40 ms more each.
    expect(delayToOthersMs(request500, 200, 6, fit, 1_000)).toBeCloseTo(6 * (500 + 40));
    expect(delayToOthersMs(request500, 200, 0, fit, 1_000)).toBe(0);
    expect(delayToOthersMs(request500, 200, 6, undefined, 1_000)).toBeCloseTo(6 * 500);
  });

  it('counts a long prompt up to 1,024 tokens', () => {
    const long = { ...request, promptTokens: 8_000 };
    expect(delayToOthersMs(long, 0, 1, fit, 1_000)).toBeCloseTo(1_024);
  });

  it('adds nine times its own wait for a slot to the requests queueing behind it', () => {
    const { pool, backend } = backendWith(4);
    expect(queueDelayToOthersMs(backend, request, prior, 0, settings)).toBe(0);
    pool.recordScrape(
      backend,
      { engine: 'vllm', running: 4, waiting: 2, kvCacheUsage: 0.5, decoding: noDecodeTotals },
      0,
    );
    // 3 requests to wait for on 4 slots, 250 ms each: 750 ms, and 9 x that behind it.
    expect(queueDelayToOthersMs(backend, request, prior, 0, settings)).toBeCloseTo(9 * 750);
    const alone = { ...settings, delayToOthers: false };
    expect(queueDelayToOthersMs(backend, request, prior, 0, alone)).toBe(0);
  });
});

describe('unmeasured load', () => {
  it("is the gateways' own in-flight count, this one's standing for each replica when peers are unheard", () => {
    const { pool, backend } = backendWith(4);
    for (let index = 0; index < 3; index += 1) {
      pool.begin(backend, 0);
    }
    const threeGateways = { ...settings, replicaCount: 3 };
    // 3 here x 3 gateways = 9 on 4 slots: 6 queued ahead of this one, 250 ms each.
    expect(loadNowOf(backend, 0, threeGateways).occupancy).toBe(9);
    expect(predictTtftMs(backend, request, prior, 0, threeGateways)).toBeCloseTo(20 + 1_500 + 100);
    pool.recordPeerLoad(new Map([['bkd_test', 1]]));
    expect(loadNowOf(backend, 0, threeGateways).occupancy).toBe(4);
    expect(predictTtftMs(backend, request, prior, 0, threeGateways)).toBeCloseTo(20 + 250 + 100);
  });

  it('is counted the same way by the ablation without the scrape correction', () => {
    const { pool, backend } = backendWith(4);
    pool.begin(backend, 0);
    const uncorrected = { ...settings, correctScrapedLoad: false, replicaCount: 2 };
    expect(loadNowOf(backend, 0, uncorrected).occupancy).toBe(2);
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
