/**
 * How an admitted request ends in money: settled once for what it used (priced in the region
 * that served it, as the price stood at admission), or released when it used nothing; then what
 * its ending tells the operator (record-settlement.ts) and what it says about the backend: a
 * claim beyond the bound flags it, and repeated excess drains it from the pool; a sample of
 * answers is recounted by the gateway to catch inflation within the bound.
 */
import type { PooledBackend } from '../../backends/backend-pool.ts';
import type { FinalUsage, ServedBy, SettleResult, UsageOutcome } from '../../billing/ledger.ts';
import type { Deps } from '../../deps.ts';
import type { DeliveredText } from '../../metering/delivered-text-buffer.ts';
import { countDeliveredTokens, countPromptTokens } from '../../metering/final-usage.ts';
import { changeBackend } from '../replicas/catalog-changes.ts';
import type { Admission } from './admission.ts';
import { recordSettlement } from './record-settlement.ts';
import { transportCharge } from './transport-meter.ts';

function servedByOf(backend: PooledBackend): ServedBy {
  return {
    backendId: backend.record.id,
    providerId: backend.record.providerId,
    region: backend.record.region,
  };
}

/**
 * Settles for the usage, and for the bytes carried when served outside the home region: the
 * forwarded body and `responseBytes`, the answer as relayed (0 when none reached the client).
 */
export async function settleRequest(
  deps: Deps,
  admission: Admission,
  outcome: UsageOutcome,
  backend: PooledBackend,
  usage: FinalUsage,
  responseBytes: number,
): Promise<SettleResult> {
  const servedBy = servedByOf(backend);
  // Served elsewhere than first picked (a retry): the price of that region, as it stood at admission.
  // A leased request keeps its zero-multiplier price wherever its lease's backends are.
  const price =
    admission.leaseId !== undefined || servedBy.region === admission.region
      ? admission.price
      : ((await deps.catalogCache.pinnedPrice(
          admission.model,
          servedBy.region,
          admission.admittedAtMs,
        )) ?? admission.price);
  const settled = await deps.ledger.settle({
    requestId: admission.requestId,
    usage,
    outcome,
    servedBy,
    price,
    leaseId: admission.leaseId,
    atMs: deps.clock.nowMs(),
    transport: transportCharge(
      admission.meterPrices,
      admission.client.tenant.homeRegion,
      servedBy.region,
      admission.forwardedBytes + responseBytes,
    ),
  });
  await recordSettlement(deps, admission, { outcome, backend, usage, settled });
  if (usage.claimed !== undefined && !settled.duplicate) {
    await flagExcessClaim(deps, backend, admission, usage);
  }
  return settled;
}

export async function releaseRequest(
  deps: Deps,
  admission: Admission,
  outcome: UsageOutcome,
  backend: PooledBackend | undefined,
): Promise<void> {
  await deps.ledger.release({
    requestId: admission.requestId,
    outcome,
    servedBy: backend && servedByOf(backend),
    atMs: deps.clock.nowMs(),
  });
  await recordSettlement(deps, admission, {
    outcome,
    backend,
    usage: undefined,
    settled: undefined,
  });
}

/**
 * A backend claimed more than the request could have used: the claim is on the usage record,
 * the backend is flagged, and once it has done so `usageExcessClaimsMax` times it is drained on
 * every replica (its requests in flight finish; the operator decides what happens next).
 */
async function flagExcessClaim(
  deps: Deps,
  backend: PooledBackend,
  admission: Admission,
  usage: FinalUsage,
): Promise<void> {
  const claims = deps.pool.recordExcessClaim(backend);
  deps.logger.log('warn', 'usage_claim_over_bound', {
    request_id: admission.requestId,
    backend_id: backend.record.id,
    provider_id: backend.record.providerId,
    claimed_input_tokens: usage.claimed?.inputTokens,
    claimed_output_tokens: usage.claimed?.outputTokens,
    billed_input_tokens: usage.inputTokens,
    billed_output_tokens: usage.outputTokens,
    excess_claims: claims,
  });
  if (claims < deps.config.limits.usageExcessClaimsMax || backend.record.state !== 'active') {
    return;
  }
  const drained = await changeBackend(deps, backend.record, { state: 'draining' });
  await deps.audit.append({
    atMs: drained.updatedAtMs,
    actor: 'system',
    action: 'backend.drain_for_excess_usage',
    entityType: 'backend',
    entityId: backend.record.id,
    tenantId: null,
    requestId: admission.requestId,
    before: { state: 'active' },
    after: { state: 'draining', excess_claims: claims },
  });
  deps.logger.log('warn', 'backend_drained_for_excess_usage', {
    backend_id: backend.record.id,
    provider_id: backend.record.providerId,
    excess_claims: claims,
  });
}

/**
 * For a sample of requests billed on the backend's word, the gateway counts the prompt and the
 * delivered output itself: inflation within the bound shows up as reported counts above the
 * recount (input is allowed the template's tokens on top of the texts).
 */
export async function verifyReportedUsage(
  deps: Deps,
  admission: Admission,
  backend: PooledBackend,
  usage: FinalUsage,
  delivered: DeliveredText,
): Promise<void> {
  const { limits } = deps.config;
  if (usage.source !== 'provider' || deps.random() * 10_000 >= limits.verificationSampleBps) {
    return;
  }
  const { metered } = admission;
  const [recountedInputTokens, recountedOutputTokens] = await Promise.all([
    countPromptTokens(deps.tokenizer, metered),
    metered.producesOutput ? countDeliveredTokens(deps.tokenizer, metered.model, delivered) : 0,
  ]);
  const templateTokens =
    limits.templateTokensPerRequest + metered.prompt.texts.length * limits.templateTokensPerText;
  deps.pool.recordVerification(
    backend,
    {
      reportedInputTokens: usage.inputTokens,
      allowedInputTokens: recountedInputTokens + templateTokens,
      reportedOutputTokens: usage.outputTokens,
      recountedOutputTokens,
    },
    limits.verificationToleranceBps,
  );
  await deps.ledger.recordVerification(admission.requestId, recountedOutputTokens);
}
