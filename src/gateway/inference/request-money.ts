/**
 * The money side of one request: admission (pin the price, estimate, reserve or refuse with
 * insufficient_quota), the final usage (provider-reported, else the gateway's own count of what
 * was delivered), settlement or release, and the sampled verification of provider-reported usage.
 */
import type { PooledBackend } from '../../backends/backend-pool.ts';
import type { PinnedPrice } from '../../billing/cost.ts';
import type {
  FinalUsage,
  ReserveInput,
  ServedBy,
  SettleResult,
  UsageOutcome,
} from '../../billing/ledger.ts';
import { formatMoney } from '../../billing/money.ts';
import type { ClientIdentity, Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import type { DeliveredText } from '../../metering/delivered-text-buffer.ts';
import { estimatePromptTokens } from '../../metering/estimate-prompt-tokens.ts';
import type { ReportedUsage } from '../../metering/usage.ts';
import { type RateReservation, reserveRate } from '../middleware/rate-reservation.ts';
import { outputTokensAllowed } from './output-tokens-allowed.ts';
import { recordSettlement } from './record-settlement.ts';

export type AdmissionRequest = {
  requestId: string;
  client: ClientIdentity;
  model: string;
  /** The region of the backend picked first. */
  region: string;
  promptTexts: string[];
  /** Prompt tokens given as ids: counted exactly. */
  promptTokenIdCount: number;
  /** max_tokens as asked, or undefined for the model's default; 0 for embeddings. */
  outputTokensRequested: number | undefined;
};

export type Admission = AdmissionRequest & {
  price: PinnedPrice;
  admittedAtMs: number;
  promptTokensEstimate: number;
  outputTokensMax: number;
  clamped: boolean;
  /** No max_tokens was given and the model's maximum applies: it goes upstream as max_tokens. */
  capped: boolean;
  /** The key's rpm/tpm reservation, corrected when the request ends. */
  rate: RateReservation;
};

export async function admitRequest(deps: Deps, request: AdmissionRequest): Promise<Admission> {
  const admittedAtMs = deps.clock.nowMs();
  const price = await deps.catalogCache.pinnedPrice(request.model, request.region, admittedAtMs);
  if (!price) {
    throw new GatewayError(
      'model_not_found',
      `The model '${request.model}' has no price in region '${request.region}' and cannot be sold there.`,
      { param: 'model' },
    );
  }
  const promptTokensEstimate =
    estimatePromptTokens(request.promptTexts) + request.promptTokenIdCount;
  const { outputTokensMax, capped } = await outputTokensAllowed(
    deps,
    request.model,
    request.outputTokensRequested,
  );
  const reserve: ReserveInput = {
    requestId: request.requestId,
    tenantId: request.client.tenant.id,
    keyId: request.client.key.id,
    model: request.model,
    region: request.region,
    price,
    promptTokensEstimate,
    outputTokensMax,
    clampAllowed: request.client.tenant.allowMaxTokensClamp && outputTokensMax > 0,
    atMs: admittedAtMs,
    instanceId: deps.instanceId,
  };
  const rate = await reserveRate(deps, {
    key: request.client.key,
    promptTokensEstimate,
    outputTokensMax,
  });
  const reserved = await deps.ledger.reserve(reserve).catch(async (error: unknown) => {
    await rate.settle(0);
    throw error;
  });
  if (!reserved.ok) {
    await rate.settle(0);
    await deps.ledger.recordRejected(reserve);
    throw new GatewayError(
      'insufficient_quota',
      `Insufficient quota: this request may cost up to ${formatMoney(reserved.neededMicro)} ${deps.config.currency}` +
        ` and ${formatMoney(reserved.availableMicro)} is available` +
        (reserved.affordableOutputTokens > 0
          ? ` (enough for max_tokens=${reserved.affordableOutputTokens}).`
          : '.'),
    );
  }
  return {
    ...request,
    price,
    admittedAtMs,
    promptTokensEstimate,
    outputTokensMax: reserved.outputTokensMax,
    clamped: reserved.clamped,
    capped,
    rate,
  };
}

export function servedByOf(backend: PooledBackend): ServedBy {
  return {
    backendId: backend.record.id,
    providerId: backend.record.providerId,
    region: backend.record.region,
  };
}

/** Output tokens of what was delivered: those counted as the stream went, and the rest now. */
function countDelivered(deps: Deps, admission: Admission, delivered: DeliveredText): number {
  return delivered.countedTokens + deps.tokenizer.countTokens(delivered.text, admission.model);
}

/**
 * Usage to bill: what the backend reported when it reported input and output, else the gateway's
 * own count of the prompt and of what was delivered (never less than the prompt).
 */
export function finalUsage(
  deps: Deps,
  admission: Admission,
  reported: ReportedUsage | undefined,
  delivered: DeliveredText,
): FinalUsage {
  // Embeddings produce no output: their reported prompt_tokens are the whole usage.
  const outputKnown = reported?.outputTokens !== undefined || admission.outputTokensMax === 0;
  if (reported?.inputTokens !== undefined && outputKnown) {
    return {
      inputTokens: reported.inputTokens,
      cachedInputTokens: reported.cachedInputTokens ?? 0,
      outputTokens: reported.outputTokens ?? 0,
      reasoningTokens: reported.reasoningTokens,
      source: 'provider',
    };
  }
  // Counted only when not reported: a count costs CPU in proportion to the prompt.
  const inputTokens =
    reported?.inputTokens ??
    deps.tokenizer.countTokens(admission.promptTexts.join('\n'), admission.model) +
      admission.promptTokenIdCount;
  return {
    inputTokens,
    cachedInputTokens: 0,
    outputTokens: admission.outputTokensMax === 0 ? 0 : countDelivered(deps, admission, delivered),
    reasoningTokens: undefined,
    source: 'gateway_count',
  };
}

export async function settleRequest(
  deps: Deps,
  admission: Admission,
  outcome: UsageOutcome,
  backend: PooledBackend,
  usage: FinalUsage,
): Promise<SettleResult> {
  const servedBy = servedByOf(backend);
  // Served elsewhere than first picked (a retry): the price of that region, as it stood at admission.
  const price =
    servedBy.region === admission.region
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
    atMs: deps.clock.nowMs(),
  });
  await recordSettlement(deps, admission, { outcome, backend, usage, settled });
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

/** For a sample of requests, recounts the delivered output to catch inflated provider usage. */
export async function verifyReportedUsage(
  deps: Deps,
  admission: Admission,
  backend: PooledBackend,
  usage: FinalUsage,
  delivered: DeliveredText,
): Promise<void> {
  const sampleBps = deps.config.limits.verificationSampleBps;
  if (
    usage.source !== 'provider' ||
    admission.outputTokensMax === 0 ||
    deps.random() * 10_000 >= sampleBps
  ) {
    return;
  }
  const recountedOutputTokens = countDelivered(deps, admission, delivered);
  deps.pool.recordVerification(
    backend,
    usage.outputTokens,
    recountedOutputTokens,
    deps.config.limits.verificationToleranceBps,
  );
  await deps.ledger.recordVerification(admission.requestId, recountedOutputTokens);
}
