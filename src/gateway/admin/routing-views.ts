/**
 * The routing state of GET /admin/v1/backends, in API.md's snake_case: per backend its circuit,
 * Retry-After, scraped load and what the router has learned; for the gateway its retry budget,
 * capacity queue and home-region choices. Unknown numbers are null, never 0.
 */

import type { PooledBackend } from '../../backends/backend-pool.ts';
import { slotsOf } from '../../backends/routing/backend-load.ts';
import type { Deps } from '../../deps.ts';
import { toRfc3339 } from '../../platform/clock.ts';

function rounded(value: number | undefined): number | null {
  return value === undefined || !Number.isFinite(value) ? null : Math.round(value * 1000) / 1000;
}

function timeOrNull(epochMs: number | undefined): string | null {
  return epochMs === undefined || epochMs <= 0 ? null : toRfc3339(epochMs);
}

export function backendRoutingView(backend: PooledBackend) {
  const { breaker, load, estimates } = backend;
  const failures = estimates.failures;
  return {
    slots_effective: slotsOf(backend),
    circuit: {
      state: breaker.state,
      consecutive_failures: breaker.consecutiveFailures,
      openings: breaker.openings,
      open_until: breaker.state === 'closed' ? null : timeOrNull(breaker.openUntilMs),
    },
    retry_after_until: timeOrNull(backend.retryAfterUntilMs),
    scraped:
      load.scraped === undefined
        ? null
        : {
            engine: load.scraped.engine ?? null,
            running: rounded(load.scraped.running),
            waiting: rounded(load.scraped.waiting),
            kv_cache_usage: rounded(load.scraped.kvCacheUsage),
            scraped_at: timeOrNull(load.scrapedAtMs),
            dispatched_since: load.dispatchedSinceScrape,
            ended_since: load.endedSinceScrape,
          },
    scrape_error: load.scrape.lastError ?? null,
    // The other replicas' requests in flight here, as they last shared them (0 without Redis).
    peers_in_flight: load.peersInFlight,
    rtt_ewma_ms: rounded(estimates.rttMs),
    // As of the last attempt, with the router's one success of doubt (route-cost.ts).
    failure_rate: rounded(failures.hits / (failures.samples + 1)),
    failure_latency_ms: rounded(estimates.failureLatencyMs),
    models: Object.fromEntries(
      [...estimates.byModel].map(([model, learned]) => [
        model,
        {
          service_ms: rounded(learned.serviceMs),
          prefill_tokens_per_second: rounded(learned.prefillTokensPerSecond),
          inter_token_ms: rounded(learned.interTokenMs),
          first_token_correction: rounded(Math.exp(learned.residualLog)),
          first_token_samples: learned.firstTokenCount,
        },
      ]),
    ),
  };
}

export function gatewayRoutingView(deps: Deps) {
  const inFlight = deps.pool.inFlightTotal;
  return {
    router: deps.router.name,
    // As the router counts them: the configured number, or this gateway and the replicas that
    // shared their counts lately (1 without Redis).
    replicas_live: deps.config.limits.gatewayReplicaCount ?? deps.pool.liveReplicaCount,
    in_flight: inFlight,
    retries_in_flight: deps.retryBudget.retriesInFlight,
    retry_budget: deps.retryBudget.capacity(inFlight),
    waiting_for_capacity: deps.capacityQueue.length,
    region_preferences: (deps.router.regionPreferences?.() ?? []).map((preference) => ({
      model: preference.model,
      home_region: preference.homeRegion,
      mode: preference.mode,
      since: toRfc3339(preference.sinceMs),
    })),
  };
}
