/**
 * Commands of the ledger's property suite that fund a tenant or end its coupons: top-ups and
 * coupon grants (new, replayed, or replayed with other terms), voids, and the clock's ticks that
 * expire coupons. Each one advances the clock by at least 1 ms, so admission times never tie.
 */
import { expect } from 'vitest';
import { type GrantInput, LedgerConflictError } from '../../../../src/billing/ledger.ts';
import { couponView, expectAgreement } from '../expect-agreement.ts';
import { tenantIds } from '../fixed-world.ts';
import {
  type CouponModel,
  couponNamed,
  credit,
  type LedgerCommand,
  type Model,
  move,
  nextName,
  pick,
  type World,
  walletAccount,
  walletAvailable,
} from '../reference-model.ts';
import { endCouponInModel } from '../settle-in-model.ts';

export class TopUp implements LedgerCommand {
  constructor(
    readonly tenant: number,
    readonly amountMicro: bigint,
    readonly replay: 'new' | 'same' | 'different-amount',
    readonly earlier: number,
  ) {}

  check(model: Readonly<Model>): boolean {
    return this.replay === 'new' || model.topUps.length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    if (this.replay === 'new') {
      const tenantId = pick(tenantIds, this.tenant);
      const reference = nextName(model, 'payment');
      const result = await world.ledger.topUp({
        tenantId,
        amountMicro: this.amountMicro,
        reference,
        atMs: model.nowMs,
      });
      model.topUps.push({ tenantId, reference, amountMicro: this.amountMicro });
      move(model, 'cash', walletAccount(tenantId), this.amountMicro);
      expect(result.duplicate).toBe(false);
      expect(result.walletBalanceMicro).toBe(walletAvailable(model, tenantId));
    } else {
      const earlier = pick(model.topUps, this.earlier);
      const replayed = {
        tenantId: earlier.tenantId,
        reference: earlier.reference,
        amountMicro: earlier.amountMicro + (this.replay === 'same' ? 0n : this.amountMicro),
        atMs: model.nowMs,
      };
      if (this.replay === 'same') {
        const result = await world.ledger.topUp(replayed);
        expect(result.duplicate).toBe(true);
        expect(result.amountMicro).toBe(earlier.amountMicro);
        expect(result.walletBalanceMicro).toBe(walletAvailable(model, earlier.tenantId));
      } else {
        await expect(world.ledger.topUp(replayed)).rejects.toThrow(LedgerConflictError);
      }
    }
    await expectAgreement(model, world);
  }

  toString(): string {
    return `topUp(tenant ${this.tenant}, ${this.amountMicro}, ${this.replay} #${this.earlier})`;
  }
}

type GrantTerms = Pick<
  GrantInput,
  'kind' | 'program' | 'amountMicro' | 'coverageBps' | 'models' | 'regions' | 'priority'
> & { startsInMs: number; expiresInMs: number | null };

export class Grant implements LedgerCommand {
  constructor(
    readonly tenant: number,
    readonly terms: GrantTerms,
    readonly replay: 'new' | 'same' | 'other-start' | 'different-terms',
    readonly earlier: number,
    readonly changedTerm: number,
  ) {}

  check(model: Readonly<Model>): boolean {
    return this.replay === 'new' || model.grants.length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    if (this.replay === 'new') {
      const { startsInMs, expiresInMs, ...terms } = this.terms;
      const input: GrantInput = {
        ...terms,
        id: nextName(model, 'coupon'),
        tenantId: pick(tenantIds, this.tenant),
        startsAtMs: model.nowMs + startsInMs,
        expiresAtMs: expiresInMs === null ? null : model.nowMs + expiresInMs,
        reference: nextName(model, 'grant'),
        atMs: model.nowMs,
      };
      const result = await world.ledger.grantCoupon(input);
      model.grants.push(input);
      const coupon: CouponModel = {
        ...input,
        createdAtMs: model.nowMs,
        status: 'active',
        balanceMicro: input.amountMicro,
        heldMicro: 0n,
        usedMicro: 0n,
        endedMicro: 0n,
      };
      model.coupons.push(coupon);
      // The coupon's own balance lives on its record; the funder's account pays for it.
      credit(model, `subsidy_receivable:${input.program}`, -input.amountMicro);
      expect(result.duplicate).toBe(false);
      expect(couponView(result.coupon)).toEqual(couponView(coupon));
    } else {
      const earlier = pick(model.grants, this.earlier);
      const replayed: GrantInput = {
        ...earlier,
        id: nextName(model, 'coupon'),
        atMs: model.nowMs,
        // The API defaults starts_at to "now", so a plain replay may carry another start.
        startsAtMs: this.replay === 'other-start' ? model.nowMs : earlier.startsAtMs,
      };
      if (this.replay === 'different-terms') {
        const changes: Partial<GrantInput>[] = [
          { amountMicro: earlier.amountMicro + 1n },
          { coverageBps: earlier.coverageBps === 10_000 ? 5_000 : 10_000 },
          { kind: earlier.kind === 'compute' ? 'storage' : 'compute' },
          { program: earlier.program === 'gov-compute' ? 'platform-promo' : 'gov-compute' },
          { models: earlier.models === null ? ['model-a'] : null },
          { regions: earlier.regions === null ? ['east'] : null },
          { priority: earlier.priority + 1 },
          { expiresAtMs: earlier.expiresAtMs === null ? model.nowMs + 1_000 : null },
        ];
        const changed = { ...replayed, ...pick(changes, this.changedTerm) };
        await expect(world.ledger.grantCoupon(changed)).rejects.toThrow(LedgerConflictError);
      } else {
        const result = await world.ledger.grantCoupon(replayed);
        expect(result.duplicate).toBe(true);
        expect(couponView(result.coupon)).toEqual(couponView(couponNamed(model, earlier.id)));
      }
    }
    await expectAgreement(model, world);
  }

  toString(): string {
    const { startsInMs, expiresInMs, ...terms } = this.terms;
    return `grant(tenant ${this.tenant}, ${JSON.stringify({ ...terms, amountMicro: `${terms.amountMicro}` })}, starts in ${startsInMs}, expires in ${expiresInMs}, ${this.replay} #${this.earlier}/${this.changedTerm})`;
  }
}

export class VoidCoupon implements LedgerCommand {
  constructor(readonly coupon: number) {}

  check(model: Readonly<Model>): boolean {
    return model.coupons.length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const coupon = pick(model.coupons, this.coupon);
    const result = await world.ledger.voidCoupon(coupon.id, model.nowMs);
    if (coupon.status === 'active') {
      endCouponInModel(model, coupon, 'voided');
    }
    expect(result && couponView(result)).toEqual(couponView(coupon));
    expect(await world.ledger.voidCoupon('coupon-that-never-was', model.nowMs)).toBeUndefined();
    await expectAgreement(model, world);
  }

  toString(): string {
    return `voidCoupon(#${this.coupon})`;
  }
}

export class Tick implements LedgerCommand {
  constructor(
    readonly elapsedMs: number,
    readonly expire: boolean,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1 + this.elapsedMs;
    if (this.expire) {
      const ending = model.coupons.filter(
        (coupon) =>
          coupon.status === 'active' &&
          coupon.expiresAtMs !== null &&
          coupon.expiresAtMs <= model.nowMs,
      );
      for (const coupon of ending) {
        endCouponInModel(model, coupon, 'expired');
      }
      expect(await world.ledger.expireCoupons(model.nowMs)).toBe(ending.length);
      expect(await world.ledger.expireCoupons(model.nowMs), 'expiry runs once').toBe(0);
    }
    await expectAgreement(model, world);
  }

  toString(): string {
    return `tick(${this.elapsedMs} ms${this.expire ? ', expire coupons' : ''})`;
  }
}
