import { describe, expect, it } from 'vitest';
import { noDecodeTotals } from '../health/scraped-decode.ts';
import { backendRecord, poolSettings, poolWithBackends } from '../test-backend-record.ts';
import { batchNowOf, hasRoom, occupancyOf, slotsOf } from './backend-load.ts';

const staleMs = 1_000;

function oneBackend(slots = 8) {
  const { pool, backends } = poolWithBackends([backendRecord({ slots })]);
  const [backend] = backends;
  if (backend === undefined) {
    throw new Error('a backend expected');
  }
  return { pool, backend };
}

describe('backend load', () => {
  it('counts local in-flight requests when nothing was scraped', () => {
    const { pool, backend } = oneBackend();
    pool.begin(backend, 0);
    pool.begin(backend, 0);
    expect(occupancyOf(backend, 0, staleMs)).toBe(2);
  });

  it('corrects a fresh scrape with the dispatches and ends seen since', () => {
    const { pool, backend } = oneBackend();
    pool.recordScrape(
      backend,
      { engine: 'vllm', running: 6, waiting: 3, kvCacheUsage: 0.5, decoding: noDecodeTotals },
      0,
    );
    pool.begin(backend, 10);
    pool.begin(backend, 10);
    pool.end(backend);
    expect(occupancyOf(backend, 100, staleMs)).toBe(10);
  });

  it('never reads a scrape below what this gateway alone has there', () => {
    const { pool, backend } = oneBackend();
    for (let count = 0; count < 5; count += 1) {
      pool.begin(backend, 0);
    }
    pool.recordScrape(
      backend,
      { engine: 'vllm', running: 1, waiting: 0, kvCacheUsage: 0, decoding: noDecodeTotals },
      0,
    );
    expect(occupancyOf(backend, 0, staleMs)).toBe(5);
  });

  it('falls back to local counters when the scrape is stale or incomplete', () => {
    const { pool, backend } = oneBackend();
    pool.begin(backend, 0);
    pool.recordScrape(
      backend,
      { engine: 'vllm', running: 40, waiting: 0, kvCacheUsage: 0, decoding: noDecodeTotals },
      0,
    );
    expect(occupancyOf(backend, 1_001, staleMs)).toBe(1);
    pool.recordScrape(
      backend,
      {
        engine: 'vllm',
        running: 40,
        waiting: undefined,
        kvCacheUsage: undefined,
        decoding: noDecodeTotals,
      },
      2_000,
    );
    expect(occupancyOf(backend, 2_000, staleMs)).toBe(1);
  });

  it("adds the other replicas' requests in flight, and their change since a fresh scrape", () => {
    const { pool, backend } = oneBackend();
    pool.begin(backend, 0);
    pool.recordPeerLoad(new Map([['bkd_test', 3]]));
    // No scrape: every gateway's requests in flight.
    expect(occupancyOf(backend, 0, staleMs)).toBe(4);
    // The scrape counted the 3 already; 2 more since then are added, not 5.
    pool.recordScrape(
      backend,
      { engine: 'vllm', running: 6, waiting: 0, kvCacheUsage: 0, decoding: noDecodeTotals },
      10,
    );
    pool.recordPeerLoad(new Map([['bkd_test', 5]]));
    expect(occupancyOf(backend, 20, staleMs)).toBe(8);
    // Peers gone (Redis down, or they finished): never below this gateway's own, nor the scrape's.
    pool.recordPeerLoad(new Map());
    expect(occupancyOf(backend, 20, staleMs)).toBe(3);
    expect(occupancyOf(backend, 2_000, staleMs)).toBe(1);
  });

  it("scales this gateway's count by the replicas on an unmeasured backend while peers are unheard", () => {
    const { pool, backend } = oneBackend();
    pool.begin(backend, 0);
    pool.begin(backend, 0);
    // Three gateways, the others' counts unknown (no Redis, or it is down): 2 each.
    expect(occupancyOf(backend, 0, staleMs, 3)).toBe(6);
    // Heard: their own counts, not a guess.
    pool.recordPeerLoad(new Map([['bkd_test', 1]]));
    expect(occupancyOf(backend, 0, staleMs, 3)).toBe(3);
    pool.recordPeerLoad(undefined);
    expect(occupancyOf(backend, 0, staleMs, 3)).toBe(6);
    // A fresh scrape is read as it is: the replicas are in it.
    pool.recordScrape(
      backend,
      { engine: 'vllm', running: 4, waiting: 0, kvCacheUsage: 0, decoding: noDecodeTotals },
      0,
    );
    expect(occupancyOf(backend, 10, staleMs, 3)).toBe(4);
    expect(occupancyOf(backend, 1_001, staleMs, 3)).toBe(6);
  });

  it('keeps the age of a page that repeats itself while it shows requests decoding', () => {
    const { pool, backend } = oneBackend();
    const decoding = new Map([['m', { seconds: 12, count: 600, perToken: true }]]);
    const frozen = { engine: 'vllm' as const, running: 3, waiting: 0, kvCacheUsage: 0.2, decoding };
    pool.recordScrape(backend, frozen, 0);
    pool.begin(backend, 100);
    pool.begin(backend, 100);
    // The same numbers 250 ms later: not news. The dispatches since the first still count.
    pool.recordScrape(backend, { ...frozen, decoding: new Map(decoding) }, 250);
    expect(backend.load.scrapedAtMs).toBe(0);
    expect(occupancyOf(backend, 500, staleMs)).toBe(5);
    // Stale a second after it last changed: the gateways' own count.
    pool.recordScrape(backend, frozen, 1_000);
    expect(occupancyOf(backend, 1_001, staleMs)).toBe(2);
    // It moves again: taken, and the counts restart from it.
    const moved = new Map([['m', { seconds: 12.5, count: 640, perToken: true }]]);
    pool.recordScrape(backend, { ...frozen, decoding: moved }, 1_250);
    expect(backend.load.scrapedAtMs).toBe(1_250);
    expect(occupancyOf(backend, 1_300, staleMs)).toBe(3);
  });

  it('takes a repeated page that shows nothing decoding, or counts no decode time per token', () => {
    const { pool, backend } = oneBackend();
    const idle = {
      engine: 'vllm' as const,
      running: 0,
      waiting: 0,
      kvCacheUsage: 0,
      decoding: new Map([['m', { seconds: 12, count: 600, perToken: true }]]),
    };
    pool.recordScrape(backend, idle, 0);
    pool.recordScrape(backend, idle, 250);
    expect(backend.load.scrapedAtMs).toBe(250);
    const gaugesOnly = { ...idle, running: 3, decoding: noDecodeTotals };
    pool.recordScrape(backend, gaugesOnly, 500);
    pool.recordScrape(backend, gaugesOnly, 750);
    expect(backend.load.scrapedAtMs).toBe(750);
    // Per-answer totals stand still until an answer ends.
    const perAnswer = {
      ...gaugesOnly,
      engine: 'sglang' as const,
      decoding: new Map([['m', { seconds: 3, count: 40, perToken: false }]]),
    };
    pool.recordScrape(backend, perAnswer, 1_000);
    pool.recordScrape(backend, perAnswer, 1_250);
    expect(backend.load.scrapedAtMs).toBe(1_250);
  });

  it('learns more slots than declared from what the server runs, never fewer', () => {
    const { pool, backend } = oneBackend(8);
    pool.recordScrape(
      backend,
      { engine: 'vllm', running: 3, waiting: 5, kvCacheUsage: 1, decoding: noDecodeTotals },
      0,
    );
    expect(slotsOf(backend)).toBe(8);
    expect(batchNowOf(backend, 0, staleMs)).toBe(3);
    pool.recordScrape(
      backend,
      { engine: 'vllm', running: 48, waiting: 0, kvCacheUsage: 0.3, decoding: noDecodeTotals },
      1,
    );
    expect(slotsOf(backend)).toBe(48);
    expect(batchNowOf(backend, 1, staleMs)).toBe(48);
  });

  it('has room below slots x (1 + queue share)', () => {
    const { pool, backend } = oneBackend(4);
    pool.recordScrape(
      backend,
      { engine: 'vllm', running: 4, waiting: 3, kvCacheUsage: 1, decoding: noDecodeTotals },
      0,
    );
    const settings = poolSettings({ backendQueueBps: 10_000, metricsStaleMs: staleMs });
    expect(hasRoom(backend, 0, settings)).toBe(true);
    pool.begin(backend, 0);
    expect(hasRoom(backend, 0, settings)).toBe(false);
  });
});
