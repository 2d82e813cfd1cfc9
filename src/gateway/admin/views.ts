/**
 * The JSON shapes of API.md, written from store records: snake_case fields, money as decimal
 * strings, times as RFC 3339. Secrets and upstream API keys never appear here.
 */
import {
  type BackendPool,
  flagsOf,
  type OutOfPoolState,
  stateOf,
  type UsageVerification,
  verificationCounts,
} from '../../backends/backend-pool.ts';
import type {
  AdjustmentRecord,
  CouponState,
  LedgerEntry,
  PaidBy,
  PayoutRecord,
  TenantMoney,
  UsageRecord,
} from '../../billing/ledger.ts';
import { formatMoney } from '../../billing/money.ts';
import { payoutBpsAt } from '../../billing/payout-rates.ts';
import type {
  ApiKeyRecord,
  BackendRecord,
  PayoutRateRecord,
  PriceRecord,
  ProviderRecord,
  TenantRecord,
} from '../../db/catalog.ts';
import { toRfc3339 } from '../../platform/clock.ts';
import { backendRoutingView } from './routing-views.ts';

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
    allow_key_management: tenant.allowKeyManagement,
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

/**
 * A provider with its payout rate in force at `nowMs` and every version of it (`rates` may hold
 * other providers' versions: only its own are shown).
 */
export function providerView(
  provider: ProviderRecord,
  rates: readonly PayoutRateRecord[],
  nowMs: number,
) {
  const versions = rates.filter((rate) => rate.providerId === provider.id);
  return {
    id: provider.id,
    object: 'provider',
    name: provider.name,
    payout_bps: payoutBpsAt({ baseBps: provider.payoutBps, versions }, nowMs),
    payout_rates: versions.map((rate) => ({
      version: rate.version,
      payout_bps: rate.payoutBps,
      effective_at: toRfc3339(rate.effectiveAtMs),
      created_at: toRfc3339(rate.createdAtMs),
    })),
    created_at: toRfc3339(provider.createdAtMs),
  };
}

export function payoutView(payout: PayoutRecord) {
  return {
    id: `txn_${payout.transactionId}`,
    object: 'payout',
    provider_id: payout.providerId,
    amount: formatMoney(payout.amountMicro),
    reference: payout.reference,
    note: payout.note,
    created_at: toRfc3339(payout.createdAtMs),
  };
}

/** The amount is signed: "-5.00" debited the wallet. */
export function adjustmentView(adjustment: AdjustmentRecord) {
  return {
    id: `txn_${adjustment.transactionId}`,
    object: 'adjustment',
    tenant_id: adjustment.tenantId,
    amount: formatMoney(adjustment.amountMicro),
    reason: adjustment.reason,
    reference: adjustment.reference,
    created_at: toRfc3339(adjustment.createdAtMs),
  };
}

/** A backend as the store knows it, with the pool's live state when it is in the pool. */
export function backendView(record: BackendRecord, pool: BackendPool) {
  const pooled = pool.get(record.id);
  const refusal = pool.refusal(record.id);
  return {
    id: record.id,
    object: 'backend',
    provider_id: record.providerId,
    url: record.url,
    region: record.region,
    models: record.models,
    slots: record.slots,
    accelerators: record.accelerators,
    accelerator: record.accelerator,
    metrics_url: record.metricsUrl,
    has_api_key: record.apiKey !== null,
    state: pooled ? stateOf(pooled) : outOfPoolState(record, refusal),
    ...(refusal === undefined ? {} : { refused_reason: refusal }),
    in_flight: pooled?.inFlight ?? 0,
    consecutive_failures: pooled?.consecutiveFailures ?? 0,
    latency_ewma_ms:
      pooled?.latencyEwmaMs === undefined ? null : Math.round(pooled.latencyEwmaMs * 1000) / 1000,
    flags: pooled ? flagsOf(pooled.verification) : [],
    verification: pooled ? verificationView(pooled.verification) : null,
    routing: pooled ? backendRoutingView(pooled) : null,
    created_at: toRfc3339(record.createdAtMs),
    updated_at: toRfc3339(record.updatedAtMs),
  };
}

function outOfPoolState(record: BackendRecord, refusal: string | undefined): OutOfPoolState {
  if (refusal !== undefined) {
    return 'refused';
  }
  if (record.state === 'pending' || record.state === 'draining') {
    return record.state;
  }
  return 'healthy';
}

function verificationView(verification: UsageVerification) {
  return { ...verificationCounts(verification), flagged: flagsOf(verification).length > 0 };
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
    card_hour: price.cardHourMicro === null ? null : formatMoney(price.cardHourMicro),
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

export function couponView(coupon: CouponState) {
  return {
    id: coupon.id,
    object: 'coupon',
    tenant_id: coupon.tenantId,
    kind: coupon.kind,
    program: coupon.program,
    amount: formatMoney(coupon.amountMicro),
    remaining: formatMoney(coupon.remainingMicro),
    held: formatMoney(coupon.heldMicro),
    coverage_bps: coupon.coverageBps,
    models: coupon.models,
    regions: coupon.regions,
    priority: coupon.priority,
    starts_at: toRfc3339(coupon.startsAtMs),
    expires_at: coupon.expiresAtMs === null ? null : toRfc3339(coupon.expiresAtMs),
    status: coupon.status,
    reference: coupon.reference,
    created_at: toRfc3339(coupon.createdAtMs),
  };
}

/** The tenant as the admin API shows it: with its money. */
export function tenantMoneyView(tenant: TenantRecord, currency: string, money: TenantMoney) {
  return {
    ...tenantView(tenant, currency),
    balance: formatMoney(money.walletBalanceMicro),
    holds: formatMoney(money.holdsMicro),
    coupons: money.coupons.map(couponView),
  };
}

export function paidByView(paidBy: readonly PaidBy[]) {
  return paidBy.map((paid) => ({
    source: paid.source,
    id: paid.id,
    kind: paid.kind,
    amount: formatMoney(paid.amountMicro),
  }));
}

/**
 * The batch a request ran for: a batch line's request id is `{batch id}:{custom_id}`, and the
 * gateway's own request ids (`req_...`) never hold a colon.
 */
export function batchIdOf(requestId: string): string | null {
  const colon = requestId.indexOf(':');
  return requestId.startsWith('batch_') && colon > 0 ? requestId.slice(0, colon) : null;
}

export function usageView(record: UsageRecord) {
  return {
    object: 'usage',
    request_id: record.requestId,
    batch_id: batchIdOf(record.requestId),
    lease_id: record.leaseId,
    created_at: toRfc3339(record.createdAtMs),
    tenant_id: record.tenantId,
    key_id: record.keyId,
    model: record.model,
    region: record.region,
    backend_id: record.backendId,
    provider_id: record.providerId,
    input_tokens: record.inputTokens,
    cached_input_tokens: record.cachedInputTokens,
    output_tokens: record.outputTokens,
    reasoning_tokens: record.reasoningTokens,
    usage_source: record.usageSource,
    outcome: record.outcome,
    cost: formatMoney(record.costMicro),
    lines: record.lines,
    paid_by: paidByView(record.paidBy),
    verified_output_tokens: record.verifiedOutputTokens,
    claimed_input_tokens: record.claimedInputTokens,
    claimed_output_tokens: record.claimedOutputTokens,
  };
}

export function ledgerEntryView(entry: LedgerEntry) {
  return {
    object: 'ledger_entry',
    transaction_id: entry.transactionId,
    kind: entry.kind,
    request_id: entry.requestId,
    reference: entry.reference,
    debit_account: entry.debitAccountId,
    credit_account: entry.creditAccountId,
    amount: formatMoney(entry.amountMicro),
    flag: entry.flag,
    created_at: toRfc3339(entry.createdAtMs),
  };
}
