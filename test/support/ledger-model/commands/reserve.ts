/**
 * The admission commands of the ledger's property suite: a reservation (its tokens, perhaps a
 * transport line, clamped or refused as the model judges) and a replay of an earlier one. Each one
 * advances the clock by at least 1 ms, so admission times never tie.
 */
import { expect } from 'vitest';
import type { PinnedPrice } from '../../../../src/billing/cost.ts';
import type { ReserveResult } from '../../../../src/billing/ledger.ts';
import {
  affordableAllowances,
  type ChargedLine,
  type HoldPlan,
  holdPlan,
} from '../coupon-spending.ts';
import { expectAgreement } from '../expect-agreement.ts';
import { modelNames, regionNames, tenantIds } from '../fixed-world.ts';
import {
  atLeastZero,
  couponNamed,
  estimateOf,
  type HoldModel,
  type LedgerCommand,
  type Model,
  nextName,
  pick,
  type TransportModel,
  transportCostOf,
  type World,
  walletAvailable,
} from '../reference-model.ts';

/** What the model judged of a reservation before asking the store. */
type Affordability = {
  price: PinnedPrice;
  askedEstimateMicro: bigint;
  transportMicro: bigint;
  /** How the transport line would be paid, when the request is to cross regions. */
  transport: HoldPlan | undefined;
  /** The wallet the tokens may use: what the transport line left of it. */
  tokensWalletMicro: bigint;
  tokensAskedAffordable: boolean;
  /** What coupons would pay of the asked tokens. */
  tokensCouponsMicro: bigint;
  /** Every allowance up to the asked one, when the asked one is not affordable. */
  affordable: boolean[];
  largestAffordable: number;
  /** Affordability never comes back once lost: the clamp's search must then find the largest. */
  monotone: boolean;
};

export class Reserve implements LedgerCommand {
  constructor(
    readonly tenant: number,
    readonly modelIndex: number,
    readonly regionIndex: number,
    readonly promptTokensEstimate: number,
    readonly outputTokensMax: number,
    readonly clampAllowed: boolean,
    readonly multiplierBps: number,
    readonly slot: number,
    readonly transport: TransportModel | null,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const tenantId = pick(tenantIds, this.tenant);
    const modelName = pick(modelNames, this.modelIndex);
    const region = pick(regionNames, this.regionIndex);
    const current = model.currentPrice.get(modelName);
    if (!current) {
      throw new Error(`no price for ${modelName}`);
    }
    const price: PinnedPrice = { ...current, multiplierBps: this.multiplierBps };
    const instanceId = pick(model.gateways, this.slot);
    const input = {
      requestId: nextName(model, 'request'),
      tenantId,
      keyId: `key-${tenantId}`,
      model: modelName,
      region,
      price,
      promptTokensEstimate: this.promptTokensEstimate,
      outputTokensMax: this.outputTokensMax,
      clampAllowed: this.clampAllowed,
      atMs: model.nowMs,
      instanceId,
      transport: this.transport ?? undefined,
    };
    const line: ChargedLine = {
      kind: 'compute',
      model: modelName,
      region,
      admittedAtMs: model.nowMs,
    };
    const judged = this.judge(model, tenantId, line, price);
    const result = await world.ledger.reserve(input);

    const transportShortMicro = judged.transport?.shortfallMicro ?? 0n;
    if (judged.tokensAskedAffordable && transportShortMicro === 0n) {
      expect(result).toEqual({
        ok: true,
        reservedMicro: judged.askedEstimateMicro + judged.transportMicro,
        outputTokensMax: this.outputTokensMax,
        clamped: false,
      });
    } else if (result.ok) {
      expect(transportShortMicro, 'a transport line is reserved in full').toBe(0n);
      this.expectClamp(result, judged);
    } else {
      this.expectRefusal(result, judged);
    }

    if (result.ok) {
      const tokens = holdPlan(
        model,
        tenantId,
        line,
        result.reservedMicro - judged.transportMicro,
        judged.tokensWalletMicro,
      );
      expect(tokens.shortfallMicro).toBe(0n);
      // Held as the store takes them: the tokens' coupons, the transport's, the wallet once.
      const walletMicro = tokens.walletMicro + (judged.transport?.walletMicro ?? 0n);
      const holds: HoldModel[] = [
        ...tokens.couponHolds,
        ...(judged.transport?.couponHolds ?? []),
        ...(walletMicro > 0n ? [{ couponId: null, heldMicro: walletMicro }] : []),
      ];
      for (const hold of holds) {
        if (hold.couponId === null) {
          model.walletHeld.set(tenantId, (model.walletHeld.get(tenantId) ?? 0n) + hold.heldMicro);
        } else {
          couponNamed(model, hold.couponId).heldMicro += hold.heldMicro;
        }
      }
      model.reservations.push({
        requestId: input.requestId,
        tenantId,
        model: modelName,
        region,
        price,
        admittedAtMs: model.nowMs,
        instanceId,
        promptTokensEstimate: this.promptTokensEstimate,
        outputTokensMax: result.outputTokensMax,
        reservedMicro: result.reservedMicro,
        transport: this.transport,
        holds,
        status: 'reserved',
        checkpoint: null,
        ending: null,
      });
    } else {
      // The gateway records a refused request; it holds nothing.
      await world.ledger.recordRejected(input);
      model.rejected.push({ requestId: input.requestId, tenantId });
    }
    await expectAgreement(model, world);
  }

  /**
   * The transport line is paid first, by transport coupons and the wallet; the tokens get what of
   * the wallet it leaves.
   */
  private judge(
    model: Model,
    tenantId: string,
    line: ChargedLine,
    price: PinnedPrice,
  ): Affordability {
    const transportMicro = this.transport === null ? 0n : transportCostOf(this.transport);
    const transport =
      this.transport === null
        ? undefined
        : holdPlan(model, tenantId, { ...line, kind: 'transport' }, transportMicro);
    const tokensWalletMicro =
      atLeastZero(walletAvailable(model, tenantId)) - (transport?.walletMicro ?? 0n);
    const askedEstimateMicro = estimateOf(price, this.promptTokensEstimate, this.outputTokensMax);
    const asked = holdPlan(model, tenantId, line, askedEstimateMicro, tokensWalletMicro);
    const tokensAskedAffordable = asked.shortfallMicro === 0n;
    // Every smaller allowance, only when the clamp or the refusal needs judging.
    const affordable = tokensAskedAffordable
      ? []
      : affordableAllowances(
          model,
          tenantId,
          line,
          price,
          this.promptTokensEstimate,
          this.outputTokensMax,
          tokensWalletMicro,
        );
    return {
      price,
      askedEstimateMicro,
      transportMicro,
      transport,
      tokensWalletMicro,
      tokensAskedAffordable,
      tokensCouponsMicro: asked.couponsMicro,
      affordable,
      largestAffordable: affordable.lastIndexOf(true),
      // With several partial-coverage coupons and a nearly empty wallet affordability can come
      // back (each coupon rounds its share down), and the clamp's search may then stop short or
      // refuse: a known gap, pinned in reservation-plan.test.ts.
      monotone: affordable.every((fits, index) => fits || !affordable[index + 1]),
    };
  }

  private expectClamp(result: Extract<ReserveResult, { ok: true }>, judged: Affordability): void {
    expect(this.clampAllowed, 'only a tenant that allows it is clamped').toBe(true);
    expect(result.clamped).toBe(true);
    expect(result.outputTokensMax).toBeGreaterThanOrEqual(1);
    expect(result.outputTokensMax).toBeLessThan(this.outputTokensMax);
    expect(judged.affordable[result.outputTokensMax], 'the clamped allowance is affordable').toBe(
      true,
    );
    if (judged.monotone) {
      expect(result.outputTokensMax).toBe(judged.largestAffordable);
    }
    expect(result.reservedMicro).toBe(
      estimateOf(judged.price, this.promptTokensEstimate, result.outputTokensMax) +
        judged.transportMicro,
    );
  }

  private expectRefusal(
    result: Extract<ReserveResult, { ok: false }>,
    judged: Affordability,
  ): void {
    const transportShortMicro = judged.transport?.shortfallMicro ?? 0n;
    const tokensClamped = this.clampAllowed && judged.largestAffordable >= 1;
    if (
      transportShortMicro > 0n &&
      (judged.tokensAskedAffordable || (judged.monotone && tokensClamped))
    ) {
      // The tokens alone would be reserved: the transport line is what the tenant cannot pay.
      const tokensMicro = judged.tokensAskedAffordable
        ? judged.askedEstimateMicro
        : estimateOf(judged.price, this.promptTokensEstimate, judged.largestAffordable);
      const neededMicro = tokensMicro + judged.transportMicro;
      expect(result).toEqual({
        ok: false,
        affordableOutputTokens: 0,
        neededMicro,
        availableMicro: neededMicro - transportShortMicro,
      });
      return;
    }
    if (transportShortMicro > 0n && this.clampAllowed && !judged.monotone) {
      // Whether the tokens would be clamped is the known gap above: nothing more to judge.
      return;
    }
    expect(result.neededMicro).toBe(judged.askedEstimateMicro + judged.transportMicro);
    expect(result.availableMicro).toBe(
      judged.tokensWalletMicro +
        (judged.transport?.walletMicro ?? 0n) +
        judged.tokensCouponsMicro +
        (judged.transport?.couponsMicro ?? 0n),
    );
    expect(result.affordableOutputTokens).toBeLessThan(this.outputTokensMax);
    if (result.affordableOutputTokens >= 1) {
      expect(judged.affordable[result.affordableOutputTokens]).toBe(true);
    }
    if (judged.monotone) {
      expect(result.affordableOutputTokens).toBe(Math.max(0, judged.largestAffordable));
      if (this.clampAllowed) {
        expect(
          judged.largestAffordable <= 0,
          'refused with the clamp: no token is affordable',
        ).toBe(true);
      }
    }
  }

  toString(): string {
    const transport =
      this.transport === null
        ? ''
        : `, transport ${this.transport.bytes} bytes at ${this.transport.pricePerGbMicro}/GB`;
    return `reserve(tenant ${this.tenant}, model ${this.modelIndex}, region ${this.regionIndex}, prompt ${this.promptTokensEstimate}, max ${this.outputTokensMax}, clamp ${this.clampAllowed}, x${this.multiplierBps}, gateway ${this.slot}${transport})`;
  }
}

export class ReserveAgain implements LedgerCommand {
  constructor(readonly reservation: number) {}

  check(model: Readonly<Model>): boolean {
    return model.reservations.length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const reservation = pick(model.reservations, this.reservation);
    const result = await world.ledger.reserve({
      requestId: reservation.requestId,
      tenantId: reservation.tenantId,
      keyId: `key-${reservation.tenantId}`,
      model: reservation.model,
      region: reservation.region,
      price: reservation.price,
      promptTokensEstimate: reservation.promptTokensEstimate,
      outputTokensMax: 1,
      clampAllowed: false,
      atMs: model.nowMs,
      instanceId: pick(model.gateways, 0),
    });
    expect(result).toMatchObject({ ok: true, reservedMicro: reservation.reservedMicro });
    await expectAgreement(model, world);
  }

  toString(): string {
    return `reserveAgain(#${this.reservation})`;
  }
}
