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
