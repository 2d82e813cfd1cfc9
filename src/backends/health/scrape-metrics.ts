/**
 * The metrics scrape, run by the runtime on its own interval: each backend whose turn has come is
 * asked for its Prometheus page (`metrics_url`, or `/metrics` beside its OpenAI URL), and the load
 * read from it goes to the pool. The exchange's duration is the backend's network round trip, so
 * even a backend without metrics (a 404) teaches the router its distance. A failed scrape waits
 * twice as long before the next, up to a bound; its old numbers simply go stale. Whatever is due,
 * one origin gets at most one scrape per `metricsScrapeOriginIntervalMs` (scrape-origin-gate.ts),
 * and one pass asks at most `metricsScrapesPerPassMax` backends: the backend that waited longest
 * goes first, the others wait their turn.
 */
import type { Limits } from '../../config.ts';
import type { BackendRecord } from '../../db/catalog.ts';
import type { Clock } from '../../platform/clock.ts';
import type { BackendPool, PooledBackend } from '../backend-pool.ts';
import { movedAverage } from '../routing/decaying-average.ts';
import { readAllBytes, type Upstream, type UpstreamTarget } from '../upstream/upstream.ts';
import { parsePrometheusText } from './prometheus-text.ts';
import type { ScrapeOriginGate } from './scrape-origin-gate.ts';
import { loadMetricNames, readScrapedLoad } from './scraped-load.ts';

export type ScrapeSettings = Pick<
  Limits,
  | 'metricsScrapesPerPassMax'
  | 'metricsScrapeIntervalMs'
  | 'metricsScrapeTimeoutMs'
  | 'metricsScrapeBackoffMsMax'
  | 'metricsResponseBytesMax'
>;

/**
 * Weights of a new round-trip sample: a round trip is a floor that noise only adds to (a busy
 * event loop, a cold connection), so lower samples count more than higher ones.
 */
const roundTripWeightDown = 0.5;
const roundTripWeightUp = 0.1;

export type MetricsTarget = { target: UpstreamTarget; path: string };

/** The upstream id of a backend's metrics when they live on another origin. */
export function metricsTargetId(backendId: string): string {
  return `${backendId}#metrics`;
}

/**
 * Where a backend's metrics are. On the backend's own origin the request shares its connection
 * pool and carries its API key; on another origin (a separate exporter) it gets its own pool and
 * no key, so the key never leaves the origin the provider registered it for.
 */
export function metricsTargetOf(record: BackendRecord): MetricsTarget {
  const backendUrl = new URL(record.url);
  const metricsUrl =
    record.metricsUrl === null
      ? new URL(`${backendUrl.pathname.replace(/\/[^/]*\/?$/, '')}/metrics`, backendUrl.origin)
      : new URL(record.metricsUrl);
  const sameOrigin = metricsUrl.origin === backendUrl.origin;
  return {
    target: {
      id: sameOrigin ? record.id : metricsTargetId(record.id),
      url: metricsUrl.origin,
      apiKey: sameOrigin ? record.apiKey : null,
    },
    path: `${metricsUrl.pathname}${metricsUrl.search}`,
  };
}

export async function scrapeBackendMetrics(
  pool: BackendPool,
  upstream: Upstream,
  clock: Clock,
  settings: ScrapeSettings,
  origins: ScrapeOriginGate,
): Promise<void> {
  const nowMs = clock.nowMs();
  origins.forgetPassed(nowMs);
  const due = pool
    .all()
    .filter((backend) => backend.load.scrape.nextAtMs <= nowMs)
    .sort((one, other) => one.load.scrape.nextAtMs - other.load.scrape.nextAtMs);
  const allowed: PooledBackend[] = [];
  for (const backend of due) {
    if (allowed.length === settings.metricsScrapesPerPassMax) {
      break;
    }
    if (origins.take(metricsTargetOf(backend.record).target.url, nowMs)) {
      allowed.push(backend);
    }
  }
  await Promise.all(allowed.map((backend) => scrapeOne(pool, upstream, clock, backend, settings)));
}

async function scrapeOne(
  pool: BackendPool,
  upstream: Upstream,
  clock: Clock,
  backend: PooledBackend,
  settings: ScrapeSettings,
): Promise<void> {
  const { target, path } = metricsTargetOf(backend.record);
  const startedAtMs = clock.nowMs();
  try {
    const response = await upstream.send(target, {
      method: 'GET',
      path,
      headers: { accept: 'text/plain' },
      body: undefined,
      signal: AbortSignal.timeout(settings.metricsScrapeTimeoutMs),
    });
    recordRoundTrip(backend, clock.nowMs() - startedAtMs);
    if (response.status < 200 || response.status >= 300) {
      await response.body.cancel();
      scrapeFailed(backend, clock.nowMs(), settings, `status ${response.status}`);
      return;
    }
    const bytes = await readAllBytes(response.body, settings.metricsResponseBytesMax);
    const samples = parsePrometheusText(new TextDecoder().decode(bytes), loadMetricNames);
    const atMs = clock.nowMs();
    pool.recordScrape(backend, readScrapedLoad(samples), atMs);
    backend.load.scrape = {
      nextAtMs: atMs + settings.metricsScrapeIntervalMs,
      failureCount: 0,
      lastError: undefined,
    };
  } catch (error) {
    scrapeFailed(
      backend,
      clock.nowMs(),
      settings,
      error instanceof Error ? error.message : String(error),
    );
  }
}

/** A round trip measured by a scrape (or anything as small). */
export function recordRoundTrip(backend: PooledBackend, roundTripMs: number): void {
  const previous = backend.estimates.rttMs;
  const weight =
    previous !== undefined && roundTripMs < previous ? roundTripWeightDown : roundTripWeightUp;
  backend.estimates.rttMs = movedAverage(previous, roundTripMs, weight);
}

function scrapeFailed(
  backend: PooledBackend,
  nowMs: number,
  settings: ScrapeSettings,
  message: string,
): void {
  const failureCount = backend.load.scrape.failureCount + 1;
  const pauseMs = Math.min(
    settings.metricsScrapeIntervalMs * 2 ** Math.min(failureCount, 20),
    settings.metricsScrapeBackoffMsMax,
  );
  backend.load.scrape = {
    nextAtMs: nowMs + pauseMs,
    failureCount,
    lastError: message.slice(0, 200),
  };
}
