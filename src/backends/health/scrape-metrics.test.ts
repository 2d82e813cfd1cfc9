import { beforeEach, describe, expect, it } from 'vitest';
import { limitsSchema } from '../../config.ts';
import { createManualClock } from '../../platform/clock.ts';
import { backendRecord, poolWithBackends } from '../test-backend-record.ts';
import type { Upstream, UpstreamRequest, UpstreamTarget } from '../upstream/upstream.ts';
import { metricsTargetOf, scrapeBackendMetrics } from './scrape-metrics.ts';
import { ScrapeOriginGate } from './scrape-origin-gate.ts';
import { noDecodeTotals } from './scraped-decode.ts';

const settings = limitsSchema.parse({});

let origins = new ScrapeOriginGate(settings.metricsScrapeOriginIntervalMs);

beforeEach(() => {
  origins = new ScrapeOriginGate(settings.metricsScrapeOriginIntervalMs);
});

type Answer = { status: number; body: string; delayMs: number } | 'refuse';

/** Answers each backend's scrape as told, moving the clock by the answer's delay. */
function scriptedUpstream(
  clock: ReturnType<typeof createManualClock>,
  answers: Record<string, Answer>,
) {
  const seen: { target: UpstreamTarget; path: string }[] = [];
  const upstream: Upstream = {
    async send(target: UpstreamTarget, request: UpstreamRequest) {
      seen.push({ target, path: request.path });
      const answer = answers[target.id.replace('#metrics', '')];
      if (answer === undefined || answer === 'refuse') {
        throw new Error('connection refused');
      }
      clock.advanceMs(answer.delayMs);
      return {
        status: answer.status,
        headers: { 'content-type': 'text/plain' },
        body: new Response(answer.body).body ?? new ReadableStream(),
      };
    },
    forget() {},
    async close() {},
  };
  return { upstream, seen };
}

/** A vLLM page whose inter-token histogram has seen `tokens` tokens in `seconds`. */
function vllmPageWith(seconds: number, tokens: number): string {
  return [
    'vllm:num_requests_running{model_name="m"} 3',
    'vllm:num_requests_waiting{model_name="m"} 1',
    'vllm:kv_cache_usage_perc{model_name="m"} 0.4',
    `vllm:inter_token_latency_seconds_sum{model_name="m"} ${seconds}`,
    `vllm:inter_token_latency_seconds_count{model_name="m"} ${tokens}`,
    'vllm:inter_token_latency_seconds_bucket{model_name="m",le="+Inf"} 100',
  ].join('\n');
}

const vllmPage = vllmPageWith(2, 100);

describe('metrics targets', () => {
  it('finds /metrics beside the OpenAI URL and keeps the API key on that origin', () => {
    const target = metricsTargetOf(
      backendRecord({ id: 'b', url: 'https://gpu.example/serve/v1', apiKey: 'sk-1' }),
    );
    expect(target).toEqual({
      target: { id: 'b', url: 'https://gpu.example', apiKey: 'sk-1' },
      path: '/serve/metrics',
    });
  });

  it('sends no API key to a metrics URL on another origin', () => {
    const target = metricsTargetOf(
      backendRecord({
        id: 'b',
        url: 'https://gpu.example/v1',
        apiKey: 'sk-1',
        metricsUrl: 'http://exporter.example:9400/metrics?format=text',
      }),
    );
    expect(target).toEqual({
      target: { id: 'b#metrics', url: 'http://exporter.example:9400', apiKey: null },
      path: '/metrics?format=text',
    });
  });
});

describe('scrapeBackendMetrics', () => {
  it("records each due backend's load and round trip, and schedules the next scrape", async () => {
    const clock = createManualClock(1_000);
    const { pool, backends } = poolWithBackends([backendRecord({ id: 'a' })]);
    const { upstream, seen } = scriptedUpstream(clock, {
      a: { status: 200, body: vllmPage, delayMs: 7 },
    });
    await scrapeBackendMetrics(pool, upstream, clock, settings, origins);
    const [backend] = backends;
    expect(seen.map((call) => call.path)).toEqual(['/metrics']);
    expect(backend?.load.scraped).toEqual({
      engine: 'vllm',
      running: 3,
      waiting: 1,
      kvCacheUsage: 0.4,
      decoding: new Map([['m', { seconds: 2, count: 100, perToken: true }]]),
    });
    expect(backend?.load.scrapedAtMs).toBe(1_007);
    expect(backend?.estimates.rttMs).toBe(7);
    expect(backend?.load.scrape.nextAtMs).toBe(1_007 + settings.metricsScrapeIntervalMs);
    // Not due again yet: nothing is sent.
    await scrapeBackendMetrics(pool, upstream, clock, settings, origins);
    expect(seen).toHaveLength(1);
  });

  it('keeps the round trip of a backend without metrics and backs off, doubling', async () => {
    const clock = createManualClock(0);
    const { pool, backends } = poolWithBackends([
      backendRecord({ id: 'a', url: 'http://gpu-a.example/v1' }),
      backendRecord({ id: 'b', url: 'http://gpu-b.example/v1' }),
    ]);
    const { upstream } = scriptedUpstream(clock, {
      a: { status: 404, body: 'not found', delayMs: 3 },
      b: 'refuse',
    });
    await scrapeBackendMetrics(pool, upstream, clock, settings, origins);
    const [withoutMetrics, refusing] = backends;
    expect(withoutMetrics?.estimates.rttMs).toBe(3);
    expect(withoutMetrics?.load.scraped).toBeUndefined();
    expect(withoutMetrics?.load.scrape).toEqual({
      nextAtMs: 3 + 2 * settings.metricsScrapeIntervalMs,
      failureCount: 1,
      lastError: 'status 404',
    });
    expect(refusing?.load.scrape.lastError).toBe('connection refused');
    clock.advanceMs(10_000);
    await scrapeBackendMetrics(pool, upstream, clock, settings, origins);
    expect(refusing?.load.scrape.failureCount).toBe(2);
    expect(refusing?.load.scrape.nextAtMs).toBe(
      clock.nowMs() + 4 * settings.metricsScrapeIntervalMs,
    );
  });

  it('reads a page without any known name as unknown load', async () => {
    const clock = createManualClock(0);
    const { pool, backends } = poolWithBackends([backendRecord({ id: 'a' })]);
    const { upstream } = scriptedUpstream(clock, {
      a: { status: 200, body: 'process_cpu_seconds_total 1', delayMs: 1 },
    });
    await scrapeBackendMetrics(pool, upstream, clock, settings, origins);
    expect(backends[0]?.load.scraped).toEqual({
      engine: undefined,
      running: undefined,
      waiting: undefined,
      kvCacheUsage: undefined,
      decoding: noDecodeTotals,
    });
  });

  it('learns the time between tokens from the decode totals of two scrapes', async () => {
    const clock = createManualClock(0);
    const { pool, backends } = poolWithBackends([backendRecord({ id: 'a' })]);
    const pages = [vllmPageWith(2, 100), vllmPageWith(3.5, 150), vllmPageWith(0.1, 10)];
    for (const page of pages) {
      const { upstream } = scriptedUpstream(clock, { a: { status: 200, body: page, delayMs: 1 } });
      await scrapeBackendMetrics(pool, upstream, clock, settings, origins);
      clock.advanceMs(settings.metricsScrapeIntervalMs);
      origins.forgetPassed(clock.nowMs());
    }
    // 1.5 s over 50 tokens between the first two; the third (a restart) teaches nothing.
    const learned = backends[0]?.estimates.byModel.get('m');
    expect(learned?.interTokenMs).toBeCloseTo(30);
    // The decode line's one sample: 1.5 s of decoding in the time between the two scrapes is the
    // batch it was decoded at.
    const elapsedMs = settings.metricsScrapeIntervalMs + 1;
    expect(learned?.decodeLine.weight).toBe(1);
    expect(learned?.decodeLine.batchSum).toBeCloseTo(1_500 / elapsedMs);
    expect(learned?.decodeLine.interTokenSum).toBeCloseTo(30);
  });

  it('scrapes one origin at most once per interval, whichever backends share it', async () => {
    const clock = createManualClock(0);
    const intervalMs = 1_000;
    const gate = new ScrapeOriginGate(intervalMs);
    const shared = ['a', 'b', 'c'].map((id) =>
      backendRecord({ id, url: `http://gpu.example:8000/${id}/v1` }),
    );
    const exporterBacked = backendRecord({
      id: 'd',
      url: 'http://gpu-d.example/v1',
      metricsUrl: 'http://gpu.example:8000/metrics',
    });
    const alone = backendRecord({ id: 'e', url: 'http://gpu-e.example/v1' });
    const { pool } = poolWithBackends([...shared, exporterBacked, alone]);
    const page = { status: 200, body: vllmPage, delayMs: 0 };
    const { upstream, seen } = scriptedUpstream(clock, {
      a: page,
      b: page,
      c: page,
      d: page,
      e: page,
    });
    const fastSettings = { ...settings, metricsScrapeIntervalMs: 50 };
    const originsScraped = () => seen.map((call) => call.target.url);

    await scrapeBackendMetrics(pool, upstream, clock, fastSettings, gate);
    expect(originsScraped()).toEqual(['http://gpu.example:8000', 'http://gpu-e.example']);

    // Every shared backend is due again and again; the origin still waits out its interval.
    for (let step = 0; step < 19; step += 1) {
      clock.advanceMs(50);
      await scrapeBackendMetrics(pool, upstream, clock, fastSettings, gate);
    }
    const sharedCount = () =>
      originsScraped().filter((origin) => origin === 'http://gpu.example:8000').length;
    expect(clock.nowMs()).toBe(950);
    expect(sharedCount()).toBe(1);

    clock.advanceMs(50);
    await scrapeBackendMetrics(pool, upstream, clock, fastSettings, gate);
    expect(sharedCount()).toBe(2);
    // The backend that waited longest went next, not the one scraped before.
    expect(
      seen.filter((call) => call.target.url === 'http://gpu.example:8000')[1]?.target.id,
    ).not.toBe(seen[0]?.target.id);
  });

  it('asks at most metricsScrapesPerPassMax backends in a pass, those waiting longest first', async () => {
    const clock = createManualClock(0);
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const records = ids.map((id) => backendRecord({ id, url: `http://gpu-${id}.example/v1` }));
    const { pool } = poolWithBackends(records);
    const page = { status: 200, body: vllmPage, delayMs: 0 };
    const { upstream, seen } = scriptedUpstream(
      clock,
      Object.fromEntries(ids.map((id) => [id, page])),
    );
    const twoAPass = { ...settings, metricsScrapesPerPassMax: 2, metricsScrapeIntervalMs: 50 };
    const scrapedIds = () => seen.map((call) => call.target.id);

    await scrapeBackendMetrics(pool, upstream, clock, twoAPass, origins);
    expect(scrapedIds()).toHaveLength(2);
    clock.advanceMs(10);
    await scrapeBackendMetrics(pool, upstream, clock, twoAPass, origins);
    clock.advanceMs(10);
    await scrapeBackendMetrics(pool, upstream, clock, twoAPass, origins);
    // Five backends in three passes: each once before any twice.
    expect(scrapedIds()).toHaveLength(5);
    expect(new Set(scrapedIds())).toEqual(new Set(ids));
  });
});
