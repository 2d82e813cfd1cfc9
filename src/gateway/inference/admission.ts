/**
 * Admission, the money side of letting a request in: the price pinned for the region of the
 * backend picked first, the output allowed per choice, the key's rpm/tpm reservation, and the
 * ledger reservation of the most the request can cost (prompt estimate at the input price plus
 * every choice's output at the output price), or insufficient_quota. What the backend may later
 * claim is bounded here too: output at most choices x the cap it is sent, input at most the
 * body's bound (usage-bounds.ts).
 */
import type { PinnedPrice } from '../../billing/cost.ts';
import type { ReserveInput, ReserveResult } from '../../billing/ledger.ts';
import type { BookedMeterPrice } from '../../billing/meter-prices.ts';
import { formatMoney } from '../../billing/money.ts';
import type { ClientIdentity, Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import type { MeteredRequest } from '../../metering/final-usage.ts';
import { type RateReservation, reserveRate } from '../middleware/rate-reservation.ts';
import type { InferenceRequest } from './inference-request.ts';
import { outputTokensAllowed } from './output-tokens-allowed.ts';
import { responseBytesBound, transportCharge } from './transport-meter.ts';
import { upstreamBody } from './upstream-body.ts';

export type Admission = {
  requestId: string;
  client: ClientIdentity;
  model: string;
  /** The region of the backend picked first, whose price was pinned. */
  region: string;
  price: PinnedPrice;
  admittedAtMs: number;
  promptTokensEstimate: number;
  /** The cap each choice is sent upstream with. */
  outputTokensPerChoice: number;
  /** What the backend's usage is read against: prompt, choices and bounds. */
  metered: MeteredRequest;
  /** The key's rpm/tpm reservation, corrected when the request ends. */
  rate: RateReservation;
  /** The storage and transport prices as they stood at admission (transport is priced by them). */
  meterPrices: readonly BookedMeterPrice[];
  /** Bytes of the body forwarded upstream, counted when a transport charge may apply. */
  forwardedBytes: number;
  /** The tenant's running lease whose backends serve it: its tokens are not billed. */
  leaseId: string | undefined;
};

function insufficientQuota(
  deps: Deps,
  refused: Extract<ReserveResult, { ok: false }>,
  choiceCount: number,
): GatewayError {
  const affordablePerChoice = Math.floor(refused.affordableOutputTokens / choiceCount);
  return new GatewayError(
    'insufficient_quota',
    `Insufficient quota: this request may cost up to ${formatMoney(refused.neededMicro)} ${deps.config.currency}` +
      ` and ${formatMoney(refused.availableMicro)} is available` +
      (affordablePerChoice > 0 ? ` (enough for max_tokens=${affordablePerChoice}).` : '.'),
  );
}

async function pinPrice(deps: Deps, model: string, region: string, atMs: number) {
  const price = await deps.catalogCache.pinnedPrice(model, region, atMs);
  if (!price) {
    throw new GatewayError(
      'model_not_found',
      `The model '${model}' has no price in region '${region}' and cannot be sold there.`,
      { param: 'model' },
    );
  }
  return price;
}

/** Reserves in the ledger; a refusal gives the rate reservation back and is recorded. */
async function reserveMoney(
  deps: Deps,
  reserve: ReserveInput,
  rate: RateReservation,
  choiceCount: number,
): Promise<Extract<ReserveResult, { ok: true }>> {
  const reserved = await deps.ledger.reserve(reserve).catch(async (error: unknown) => {
    await rate.settle(0);
    throw error;
  });
  if (!reserved.ok) {
    await rate.settle(0);
    await deps.ledger.recordRejected(reserve);
    throw insufficientQuota(deps, reserved, choiceCount);
  }
  return reserved;
}

export async function admitRequest(
  deps: Deps,
  identity: { requestId: string; client: ClientIdentity; region: string; leaseId?: string },
  request: InferenceRequest,
): Promise<Admission> {
  const { client } = identity;
  const admittedAtMs = deps.clock.nowMs();
  const listed = await pinPrice(deps, request.model, identity.region, admittedAtMs);
  // Leased capacity was paid by the card-hour: its tokens are priced at a zero multiplier, so
  // the reservation, the settlement and any sweep after a crash all come to nothing.
  const price = identity.leaseId === undefined ? listed : { ...listed, multiplierBps: 0 };
  const allowed = await outputTokensAllowed(deps, request.model, request.outputTokensAsked);
  const outputTokensMax = allowed * request.choiceCount;
  const meterPrices = await deps.catalogCache.meterPrices();
  const homeRegion = client.tenant.homeRegion;
  const transport = transportCharge(
    meterPrices,
    homeRegion,
    identity.region,
    homeRegion === null
      ? 0
      : upstreamBody(request, allowed).byteLength +
          responseBytesBound(deps.config.limits, outputTokensMax),
  );
  const rate = await reserveRate(deps, {
    key: client.key,
    promptTokensEstimate: request.promptTokensEstimate,
    outputTokensMax,
  });
  const reserved = await reserveMoney(
    deps,
    {
      requestId: identity.requestId,
      tenantId: client.tenant.id,
      keyId: client.key.id,
      model: request.model,
      region: identity.region,
      price,
      promptTokensEstimate: request.promptTokensEstimate,
      outputTokensMax,
      // Lowered below one token per choice, a request would produce nothing: refuse it instead.
      clampAllowed: client.tenant.allowMaxTokensClamp && outputTokensMax >= request.choiceCount,
      atMs: admittedAtMs,
      instanceId: deps.instanceId,
      transport,
    },
    rate,
    request.choiceCount,
  );
  const outputTokensPerChoice = Math.floor(reserved.outputTokensMax / request.choiceCount);
  if (request.endpoint.producesOutput && outputTokensPerChoice === 0) {
    // Clamped below one token per choice: nothing could be produced, so nothing is sold.
    await deps.ledger.release({
      requestId: identity.requestId,
      outcome: 'rejected',
      servedBy: undefined,
      atMs: admittedAtMs,
    });
    await rate.settle(0);
    throw new GatewayError(
      'insufficient_quota',
      `Insufficient quota: not enough for one output token per choice (n=${request.choiceCount}).`,
    );
  }
  return {
    requestId: identity.requestId,
    client,
    model: request.model,
    region: identity.region,
    price,
    admittedAtMs,
    promptTokensEstimate: request.promptTokensEstimate,
    outputTokensPerChoice,
    metered: {
      model: request.model,
      prompt: request.prompt,
      imageTokensEstimate: deps.config.limits.imageTokensEstimate,
      producesOutput: request.endpoint.producesOutput,
      bound: {
        inputTokensMax: request.inputTokensMax,
        outputTokensMax: outputTokensPerChoice * request.choiceCount,
      },
    },
    rate,
    meterPrices,
    forwardedBytes:
      homeRegion === null ? 0 : upstreamBody(request, outputTokensPerChoice).byteLength,
    leaseId: identity.leaseId,
  };
}
