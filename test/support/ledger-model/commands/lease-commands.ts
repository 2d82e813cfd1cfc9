/**
 * Card-hour lease commands of the ledger's property suite: charging a lease up front (or refusing
 * it with nothing held) and ending it early, with the refund of the hours not delivered and the
 * providers' share of the rest.
 */
import { expect } from 'vitest';
import { toStoredPaidBy } from '../../../../src/billing/paid-by.ts';
import { recordLease } from '../../lease-records.ts';
import { count } from '../command-tally.ts';
import { type ChargedLine, holdPlan } from '../coupon-spending.ts';
import { expectAgreement } from '../expect-agreement.ts';
import { modelNames, providers, regionNames, tenantIds } from '../fixed-world.ts';
import {
  couponNamed,
  credit,
  type LeasedBackendModel,
  type LeaseModel,
  type LedgerCommand,
  type Model,
  move,
  nextName,
  pick,
  type World,
  walletAccount,
} from '../reference-model.ts';
import { Payments, payoutBpsInModel } from '../settle-in-model.ts';

/** One card-hour of a lease, in milliseconds. */
const hourMs = 3_600_000;

/**
 * Leases a term of whole backends (their accelerators at a card-hour price, for some hours; its
 * start may be past, so an early end finds hours delivered): the gateway records it, then the
 * ledger charges its whole cost at once, compute coupons first (in spending order, each up to its
 * coverage), then the wallet, to revenue; or, when they cannot pay it all, charges nothing and
 * holds nothing, and the record is dropped. A second charge of the lease changes nothing.
 */
export class ChargeLease implements LedgerCommand {
  constructor(
    readonly tenant: number,
    readonly modelIndex: number,
    readonly regionIndex: number,
    readonly accelerators: readonly number[],
    readonly hours: number,
    readonly cardHourMicro: bigint,
    readonly startsInMs: number,
    readonly again: boolean,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const lease = this.leaseOf(model);
    const term = { startsAtMs: lease.startsAtMs, hours: lease.hours, backends: lease.backends };
    const line = await recordLease(world.store.leases, {
      id: lease.id,
      tenantId: lease.tenantId,
      model: lease.model,
      term: { ...term, cardHourMicro: lease.cardHourMicro },
      atMs: model.nowMs,
    });
    expect(line.costMicro).toBe(lease.costMicro);
    const input = {
      leaseId: lease.id,
      tenantId: lease.tenantId,
      model: lease.model,
      region: lease.region,
      line,
      atMs: model.nowMs,
    };
    const result = await world.ledger.chargeLease(input);
    const chargedLine: ChargedLine = {
      kind: 'compute',
      model: lease.model,
      region: lease.region,
      admittedAtMs: model.nowMs,
    };
    const plan = holdPlan(model, lease.tenantId, chargedLine, lease.costMicro);
    if (plan.shortfallMicro > 0n) {
      expect(result).toEqual({
        paid: false,
        costMicro: lease.costMicro,
        availableMicro: lease.costMicro - plan.shortfallMicro,
      });
      await world.store.leases.drop(lease.id);
      count('lease refused');
      await expectAgreement(model, world);
      return;
    }
    const payments = new Payments();
    for (const take of plan.couponHolds) {
      const coupon = couponNamed(model, take.couponId ?? '');
      coupon.balanceMicro -= take.heldMicro;
      coupon.usedMicro += take.heldMicro;
      payments.add('coupon', coupon.id, take.heldMicro, 'compute');
    }
    move(model, walletAccount(lease.tenantId), 'revenue', plan.walletMicro);
    payments.add('wallet', null, plan.walletMicro);
    credit(model, 'revenue', plan.couponsMicro);
    lease.paidBy = payments.list;
    model.leases.push(lease);
    for (const payer of lease.paidBy) {
      count(`lease paid with ${payer.kind}`);
    }
    expect(result).toEqual({
      paid: true,
      costMicro: lease.costMicro,
      paidBy: lease.paidBy,
      duplicate: false,
    });
    await world.store.leases.markPaid(lease.id, toStoredPaidBy(lease.paidBy), model.nowMs);
    if (this.again) {
      // Charged again, it reports the payers of the charge recorded.
      const again = await world.ledger.chargeLease({ ...input, atMs: model.nowMs + 1 });
      expect(again).toEqual({
        paid: true,
        costMicro: lease.costMicro,
        paidBy: lease.paidBy,
        duplicate: true,
      });
    }
    await expectAgreement(model, world);
  }

  private leaseOf(model: Model): LeaseModel {
    const id = nextName(model, 'lse');
    const backends = this.accelerators.map((accelerators, index) => ({
      backendId: `${id}-gpu-${index}`,
      providerId: pick(providers, index).id,
      accelerators,
      failedAtMs: null,
    }));
    const accelerators = this.accelerators.reduce((sum, count) => sum + count, 0);
    return {
      id,
      tenantId: pick(tenantIds, this.tenant),
      model: pick(modelNames, this.modelIndex),
      region: pick(regionNames, this.regionIndex),
      startsAtMs: model.nowMs + this.startsInMs,
      hours: this.hours,
      cardHourMicro: this.cardHourMicro,
      backends,
      costMicro: this.cardHourMicro * BigInt(accelerators) * BigInt(this.hours),
      paidBy: [],
      ended: false,
    };
  }

  toString(): string {
    return `chargeLease(tenant ${this.tenant}, model ${this.modelIndex}, region ${this.regionIndex}, accelerators ${this.accelerators.join('+')}, ${this.hours} h at ${this.cardHourMicro}, starts in ${this.startsInMs}${this.again ? ', again' : ''})`;
  }
}

/** Whole hours of the term a backend served before `endMs` and before it failed. */
function hoursServed(lease: LeaseModel, backend: LeasedBackendModel, endMs: number): number {
  const untilMs = Math.min(endMs, backend.failedAtMs ?? endMs);
  return untilMs <= lease.startsAtMs
    ? 0
    : Math.min(lease.hours, Math.ceil((untilMs - lease.startsAtMs) / hourMs));
}

/**
 * Gives `refundMicro` back to the lease's payers, each its part pro rata to what it paid (rounded
 * down, the remainder to the first payer); a coupon that has ended keeps no claim. Answers what
 * went back.
 */
function refundLeaseInModel(model: Model, lease: LeaseModel, refundMicro: bigint): bigint {
  const parts = lease.paidBy.map((payer) => (payer.amountMicro * refundMicro) / lease.costMicro);
  const [firstPart] = parts;
  if (firstPart !== undefined) {
    parts[0] = firstPart + refundMicro - parts.reduce((sum, part) => sum + part, 0n);
  }
  let refundedMicro = 0n;
  lease.paidBy.forEach((payer, index) => {
    const part = parts[index] ?? 0n;
    if (payer.source === 'wallet') {
      move(model, 'revenue', walletAccount(lease.tenantId), part);
      refundedMicro += part;
      return;
    }
    const coupon = couponNamed(model, payer.id ?? '');
    if (coupon.status === 'active') {
      credit(model, 'revenue', -part);
      coupon.balanceMicro += part;
      coupon.usedMicro -= part;
      refundedMicro += part;
    }
  });
  return refundedMicro;
}

/**
 * Ends a running or scheduled lease now, its first backend perhaps found failed some time into
 * the term: the whole hours not delivered go back to its payers, and each provider is credited
 * its payout share (the rate in force at the start) of what its backends delivered. Once.
 */
export class EndLease implements LedgerCommand {
  constructor(
    readonly lease: number,
    readonly failedInMs: number | null,
  ) {}

  check(model: Readonly<Model>): boolean {
    return model.leases.some((lease) => !lease.ended);
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const lease = pick(
      model.leases.filter((candidate) => !candidate.ended),
      this.lease,
    );
    const [first] = lease.backends;
    if (this.failedInMs !== null && first) {
      first.failedAtMs = lease.startsAtMs + this.failedInMs;
      await world.store.leases.markBackendFailed(lease.id, first.backendId, first.failedAtMs);
    }
    expect(await world.store.leases.endEarly(lease.id, model.nowMs)).toBe(true);
    lease.ended = true;
    let refundMicro = 0n;
    const delivered = new Map<string, bigint>();
    for (const backend of lease.backends) {
      const served = hoursServed(lease, backend, model.nowMs);
      const perHourMicro = BigInt(backend.accelerators) * lease.cardHourMicro;
      refundMicro += BigInt(lease.hours - served) * perHourMicro;
      delivered.set(
        backend.providerId,
        (delivered.get(backend.providerId) ?? 0n) + BigInt(served) * perHourMicro,
      );
    }
    const refundedMicro = refundLeaseInModel(model, lease, refundMicro);
    count(refundMicro === 0n ? 'lease ended, nothing refunded' : 'lease ended with a refund');
    if (refundedMicro < refundMicro) {
      count('lease refund forfeited by an ended coupon');
    }
    let providerSharesMicro = 0n;
    for (const [providerId, valueMicro] of delivered) {
      const payoutBps = payoutBpsInModel(model, providerId, lease.startsAtMs);
      const shareMicro = (valueMicro * BigInt(payoutBps)) / 10_000n;
      move(model, 'revenue', `provider_payable:${providerId}`, shareMicro);
      providerSharesMicro += shareMicro;
    }
    const input = {
      leaseId: lease.id,
      tenantId: lease.tenantId,
      costMicro: lease.costMicro,
      paidBy: lease.paidBy,
      refundMicro,
      delivered: [...delivered].map(([providerId, valueMicro]) => ({ providerId, valueMicro })),
      startsAtMs: lease.startsAtMs,
      atMs: model.nowMs,
    };
    expect(await world.ledger.endLease(input)).toEqual({
      refundedMicro,
      providerSharesMicro,
      duplicate: false,
    });
    expect(await world.ledger.endLease({ ...input, atMs: model.nowMs + 1 })).toMatchObject({
      duplicate: true,
    });
    await world.store.leases.markSettled(lease.id, model.nowMs);
    await expectAgreement(model, world);
  }

  toString(): string {
    return `endLease(#${this.lease}${this.failedInMs === null ? '' : `, first backend failed ${this.failedInMs} ms in`})`;
  }
}
