/**
 * The programs' statements of the ledger's property suite: each program's statement of all time,
 * line by line from the reference model's coupons, requests and leases, must be what the ledger
 * reports, reconciled; and so must the list of programs.
 */
import { expect } from 'vitest';
import type { GrantInput, PaidBy } from '../../../src/billing/ledger.ts';
import { everything, programs, tenantIds } from './fixed-world.ts';
import { type CouponModel, couponNamed, type Model, type World } from './reference-model.ts';

/**
 * What the model's requests and leases paid with coupons of `program` (of `tenant` and `kind`
 * when given): how many, and their whole cost.
 */
function copaidInModel(
  model: Model,
  program: string,
  tenant?: { tenantId: string; kind: GrantInput['kind'] },
) {
  const paidByProgram = (paidBy: readonly PaidBy[]) =>
    paidBy.some((payer) => {
      if (payer.source !== 'coupon' || payer.id === null) {
        return false;
      }
      const coupon = couponNamed(model, payer.id);
      return (
        coupon.program === program &&
        (tenant === undefined ||
          (coupon.tenantId === tenant.tenantId && coupon.kind === tenant.kind))
      );
    });
  const costs = [
    ...model.reservations.flatMap((reservation) =>
      reservation.ending && paidByProgram(reservation.ending.paidBy)
        ? [reservation.ending.costMicro]
        : [],
    ),
    ...model.leases.flatMap((lease) => (paidByProgram(lease.paidBy) ? [lease.costMicro] : [])),
  ];
  return {
    requests: costs.length,
    copaidMicro: costs.reduce((sum, costMicro) => sum + costMicro, 0n),
  };
}

/**
 * Each program's statement of all time, line by line from the model's coupons and requests
 * (granted, what they paid, what left them when they ended, what remains), reconciled; and the
 * list of programs.
 */
export async function expectStatements(model: Model, world: World): Promise<void> {
  const kinds: readonly GrantInput['kind'][] = ['compute', 'storage', 'transport'];
  const listing = [];
  for (const program of programs) {
    const summary = await world.ledger.programSummary(program, everything, undefined);
    const granted = model.coupons.filter((coupon) => coupon.program === program);
    if (granted.length === 0) {
      expect(summary).toBeUndefined();
      continue;
    }
    const sumOf = (coupons: CouponModel[], pick: (coupon: CouponModel) => bigint) =>
      coupons.reduce((sum, coupon) => sum + pick(coupon), 0n);
    const lines = [...tenantIds].sort().flatMap((tenantId) =>
      kinds.flatMap((kind) => {
        const coupons = granted.filter(
          (coupon) => coupon.tenantId === tenantId && coupon.kind === kind,
        );
        if (coupons.length === 0) {
          return [];
        }
        const ended = (status: CouponModel['status']) =>
          sumOf(
            coupons.filter((coupon) => coupon.status === status),
            (coupon) => coupon.endedMicro,
          );
        return [
          {
            tenantId,
            kind,
            coupons: coupons.length,
            openingMicro: 0n,
            grantedMicro: sumOf(coupons, (coupon) => coupon.amountMicro),
            usedMicro: sumOf(coupons, (coupon) => coupon.usedMicro),
            expiredMicro: ended('expired'),
            voidedMicro: ended('voided'),
            remainingMicro: sumOf(coupons, (coupon) => coupon.balanceMicro),
            ...copaidInModel(model, program, { tenantId, kind }),
          },
        ];
      }),
    );
    expect(summary?.reconciliation).toEqual({ ok: true, problems: [] });
    expect(summary?.lines).toEqual(lines);
    expect(summary?.grandTotal).toMatchObject({
      tenants: new Set(granted.map((coupon) => coupon.tenantId)).size,
      grantedMicro: sumOf(granted, (coupon) => coupon.amountMicro),
      remainingMicro: sumOf(granted, (coupon) => coupon.balanceMicro),
      ...copaidInModel(model, program),
    });
    listing.push({
      program,
      coupons: granted.length,
      tenants: new Set(granted.map((coupon) => coupon.tenantId)).size,
      grantedMicro: sumOf(granted, (coupon) => coupon.amountMicro),
    });
  }
  expect(
    (await world.ledger.programs()).map(({ program, coupons, tenants, grantedMicro }) => ({
      program,
      coupons,
      tenants,
      grantedMicro,
    })),
  ).toEqual(listing);
}
