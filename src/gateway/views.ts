/**
 * The JSON shapes of API.md, written from store records: snake_case fields, money as decimal
 * strings, times as RFC 3339. Secrets and upstream API keys never appear here.
 */
import { type PooledBackend, stateOf } from '../backends/backend-pool.ts';
import { formatMoney } from '../billing/money.ts';
import type {
  ApiKeyRecord,
  BackendRecord,
  PriceRecord,
  ProviderRecord,
  TenantRecord,
} from '../db/catalog.ts';
import { toRfc3339 } from '../platform/clock.ts';

export function listView<Item>(data: Item[], extra: Record<string, unknown> = {}) {
  return { object: 'list' as const, data, ...extra };
}

export function tenantView(tenant: TenantRecord, currency: string) {
  return {
    id: tenant.id,
    object: 'tenant',
    name: tenant.name,
    home_region: tenant.homeRegion,
    allowed_regions: tenant.allowedRegions,
    allow_max_tokens_clamp: tenant.allowMaxTokensClamp,
    currency,
    created_at: toRfc3339(tenant.createdAtMs),
  };
}

export function keyView(key: ApiKeyRecord) {
  return {
    id: key.id,
    object: 'api_key',
    tenant_id: key.tenantId,
    name: key.name,
    key_prefix: key.keyPrefix,
    models: key.models,
    rpm: key.requestsPerMinuteMax,
    tpm: key.tokensPerMinuteMax,
    status: key.status,
    created_at: toRfc3339(key.createdAtMs),
    revoked_at: key.revokedAtMs === null ? null : toRfc3339(key.revokedAtMs),
  };
}

export function providerView(provider: ProviderRecord) {
  return {
    id: provider.id,
    object: 'provider',
    name: provider.name,
    payout_bps: provider.payoutBps,
    created_at: toRfc3339(provider.createdAtMs),
  };
}

/** A backend as the store knows it, with the pool's live state when it is in the pool. */
export function backendView(record: BackendRecord, pooled: PooledBackend | undefined) {
  return {
    id: record.id,
    object: 'backend',
    provider_id: record.providerId,
    url: record.url,
    region: record.region,
    models: record.models,
    slots: record.slots,
    metrics_url: record.metricsUrl,
    has_api_key: record.apiKey !== null,
    state: pooled ? stateOf(pooled) : record.state === 'draining' ? 'draining' : 'healthy',
    in_flight: pooled?.inFlight ?? 0,
    consecutive_failures: pooled?.consecutiveFailures ?? 0,
    latency_ewma_ms:
      pooled?.latencyEwmaMs === undefined ? null : Math.round(pooled.latencyEwmaMs * 1000) / 1000,
    created_at: toRfc3339(record.createdAtMs),
    updated_at: toRfc3339(record.updatedAtMs),
  };
}

export function priceView(price: PriceRecord) {
  const hasOffpeak =
    price.offpeakStart !== null &&
    price.offpeakEnd !== null &&
    price.offpeakTimezone !== null &&
    price.offpeakMultiplierBps !== null;
  return {
    object: 'price',
    model: price.model,
    version: price.version,
    region: price.region === '' ? null : price.region,
    input: formatMoney(price.inputPerMillion),
    cached_input: formatMoney(price.cachedInputPerMillion),
    output: formatMoney(price.outputPerMillion),
    currency: price.currency,
    effective_at: toRfc3339(price.effectiveAtMs),
    offpeak: hasOffpeak
      ? {
          start: price.offpeakStart,
          end: price.offpeakEnd,
          timezone: price.offpeakTimezone,
          multiplier_bps: price.offpeakMultiplierBps,
        }
      : null,
  };
}
