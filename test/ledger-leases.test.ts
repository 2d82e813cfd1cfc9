/**
 * The lease operations on both ledger stores (SQLite and PostgreSQL): a lease's charge is paid by
 * compute coupons then the wallet, once per lease, or not at all when it cannot be paid in full;
 * its end refunds each payer pro rata and credits each provider its share of what was delivered,
 * once; a program statement counts the coupon's part net of its refund and the check stays clean.
 * A charge's payers read back from the ledger, as a repeated charge reports them; a lease whose
 * gateway died after charging it is marked paid by them once its claim window is over (and
 * closes as any lease), one that died before charging it is dropped, its backends freed.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PinnedPrice } from '../src/billing/cost.ts';
import { leaseChargeKey, leaseEndKey } from '../src/billing/lease-operation.ts';
import { hourMs } from '../src/billing/lease-terms.ts';
import type { Ledger } from '../src/billing/ledger.ts';
import { fromStoredPaidBy, toStoredPaidBy } from '../src/billing/paid-by.ts';
import { settleLapsedLeases } from '../src/gateway/leases/lapsed-leases.ts';
import { leaseClaimMs } from '../src/gateway/leases/open-lease.ts';
import { createManualClock } from '../src/platform/clock.ts';
import { recordLease } from './support/lease-records.ts';
import { type LedgerWorld, ledgerStores, soleLedgerOf } from './support/ledger-stores.ts';

const price: PinnedPrice = {
  priceId: 'price-1',
  inputPerMillion: 1_000_000n,
  cachedInputPerMillion: 0n,
  outputPerMillion: 1_000_000n,
  multiplierBps: 10_000,
};
const seed = {
  tenants: [{ id: 'tenant-1', clampAllowed: false }],
  providers: [
    { id: 'provider-1', payoutBps: 8_000 },
    { id: 'provider-2', payoutBps: 5_000 },
  ],
  backends: [{ id: 'backend-1', providerId: 'provider-1', region: 'east', models: ['model-a'] }],
  prices: [{ price, model: 'model-a', version: 1 }],
};
const everything = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };
/** 3 accelerators (2 of provider-1, 1 of provider-2) for 2 hours at 1.00 an accelerator-hour: 6.00. */
const term = {
  startsAtMs: 5,
  hours: 2,
  cardHourMicro: 1_000_000n,
  backends: [
    { backendId: 'backend-a', providerId: 'provider-1', accelerators: 2, failedAtMs: null },
    { backendId: 'backend-b', providerId: 'provider-2', accelerators: 1, failedAtMs: null },
  ],
};

describe.each(ledgerStores())('lease operations on $name', (store) => {
  let world: LedgerWorld;
  let ledger: Ledger;

  beforeAll(async () => {
    await store.setUp(inject('postgresAdminUrl'));
    world = await store.openWorld(seed, { ledgerCount: 1, onFile: true });
    ledger = soleLedgerOf(world);
  });
  afterAll(async () => {
    await world.close();
    await store.tearDown();
  });

  const lease = { tenantId: 'tenant-1', model: 'model-a', region: 'east' };

  it('refuses a lease the tenant cannot pay in full and moves nothing', async () => {
    await ledger.topUp({ tenantId: 'tenant-1', amountMicro: 2_000_000n, reference: 't1', atMs: 1 });
    const line = await recordLease(world.leases, { ...lease, id: 'lse_poor', term, atMs: 2 });
    const refused = await ledger.chargeLease({ ...lease, line, leaseId: 'lse_poor', atMs: 2 });
    expect(refused).toEqual({ paid: false, costMicro: 6_000_000n, availableMicro: 2_000_000n });
    expect((await ledger.tenantMoney('tenant-1', 3)).walletBalanceMicro).toBe(2_000_000n);
    await world.leases.drop('lse_poor');
  });

  it('charges compute coupons first, then the wallet, once; refunds pro rata and pays providers', async () => {
    const { coupon } = await ledger.grantCoupon({
      id: 'cpn_1',
      tenantId: 'tenant-1',
      kind: 'compute',
      program: 'gpu-grant',
      amountMicro: 4_000_000n,
      coverageBps: 10_000,
      models: null,
      regions: null,
      priority: 0,
      startsAtMs: 0,
      expiresAtMs: null,
      reference: 'grant-1',
      atMs: 4,
    });
    const line = await recordLease(world.leases, { ...lease, id: 'lse_1', term, atMs: 5 });
    const charged = await ledger.chargeLease({ ...lease, line, leaseId: 'lse_1', atMs: 5 });
    expect(charged).toEqual({
      paid: true,
      costMicro: 6_000_000n,
      duplicate: false,
      paidBy: [
        { source: 'coupon', id: coupon.id, kind: 'compute', amountMicro: 4_000_000n },
        { source: 'wallet', id: null, kind: 'wallet', amountMicro: 2_000_000n },
      ],
    });
    await world.leases.markPaid('lse_1', toStoredPaidBy(charged.paid ? charged.paidBy : []), 5);
    // The charge's payers read back from the ledger, and a repeated charge reports them too.
    const paidBy = charged.paid ? charged.paidBy : [];
    expect(await ledger.transactionPayers(leaseChargeKey('lse_1'))).toEqual(paidBy);
    expect(await ledger.transactionPayers(leaseChargeKey('lse_never'))).toBeUndefined();
    const again = await ledger.chargeLease({ ...lease, line, leaseId: 'lse_1', atMs: 6 });
    expect(again).toEqual({ paid: true, costMicro: 6_000_000n, duplicate: true, paidBy });
    expect((await ledger.tenantMoney('tenant-1', 6)).walletBalanceMicro).toBe(0n);

    // Ended within its first hour: that hour was delivered, the second goes back.
    expect(await world.leases.endEarly('lse_1', 7)).toBe(true);
    const recorded = await world.leases.get('lse_1');
    const end = {
      leaseId: 'lse_1',
      tenantId: 'tenant-1',
      costMicro: 6_000_000n,
      paidBy: fromStoredPaidBy(recorded?.paidBy ?? []),
      refundMicro: 3_000_000n,
      delivered: [
        { providerId: 'provider-1', valueMicro: 2_000_000n },
        { providerId: 'provider-2', valueMicro: 1_000_000n },
      ],
      startsAtMs: 5,
      atMs: 7,
    };
    expect(await ledger.endLease(end)).toEqual({
      refundedMicro: 3_000_000n,
      providerSharesMicro: 2_100_000n,
      duplicate: false,
    });
    expect(await ledger.endLease({ ...end, atMs: 8 })).toMatchObject({ duplicate: true });
    // The end took nothing from the tenant: it has no payers.
    expect(await ledger.transactionPayers(leaseEndKey('lse_1'))).toEqual([]);
    const money = await ledger.tenantMoney('tenant-1', 9);
    expect(money.walletBalanceMicro).toBe(1_000_000n);
    expect(money.coupons[0]?.remainingMicro).toBe(2_000_000n);
    expect((await ledger.providerBalance('provider-1')).earnedMicro).toBe(1_600_000n);
    expect(await ledger.leaseEarnings('provider-2', everything)).toEqual([
      { leaseId: 'lse_1', closedAtMs: 7, earnedMicro: 500_000n },
    ]);
    const summary = await ledger.programSummary('gpu-grant', everything, undefined);
    expect(summary).toBeDefined();
    expect(await ledger.check()).toMatchObject({ ok: true, problems: [] });
  });

  describe('a lease whose gateway died opening it', () => {
    const clock = createManualClock(10 * hourMs);
    const lapsedDeps = () => ({ clock, leases: world.leases, ledger });
    /** The same backends as above, long after that lease ended. */
    const later = { ...term, startsAtMs: 20 * hourMs };

    it('charged but never marked paid: the lease job marks it paid by what its charge took', async () => {
      await ledger.topUp({
        tenantId: 'tenant-1',
        amountMicro: 10_000_000n,
        reference: 't-crash',
        atMs: clock.nowMs(),
      });
      const atMs = clock.nowMs();
      const line = await recordLease(world.leases, {
        ...lease,
        id: 'lse_crash',
        term: later,
        atMs,
      });
      await ledger.chargeLease({ ...lease, line, leaseId: 'lse_crash', atMs });
      // The gateway died here. Within its claim window the reservation is left alone.
      clock.advanceMs(leaseClaimMs);
      expect(await settleLapsedLeases(lapsedDeps())).toBe(0);
      expect((await world.leases.get('lse_crash'))?.paidAtMs).toBeNull();
      clock.advanceMs(1);
      expect(await settleLapsedLeases(lapsedDeps())).toBe(1);
      // What is left of the coupon (2.00), then the wallet.
      const paidBy = [
        { source: 'coupon', id: 'cpn_1', kind: 'compute', amountMicro: 2_000_000n },
        { source: 'wallet', id: null, kind: 'wallet', amountMicro: 4_000_000n },
      ] as const;
      const recorded = await world.leases.get('lse_crash');
      expect(recorded).toMatchObject({ paidAtMs: clock.nowMs(), paidBy: toStoredPaidBy(paidBy) });
      expect((await world.leases.listOpen()).map((open) => open.id)).toContain('lse_crash');
      expect(await settleLapsedLeases(lapsedDeps())).toBe(0);

      // Closed like any lease: ended before it starts, it all goes back to what paid it.
      expect(await world.leases.endEarly('lse_crash', clock.nowMs())).toBe(true);
      const ended = await ledger.endLease({
        leaseId: 'lse_crash',
        tenantId: 'tenant-1',
        costMicro: 6_000_000n,
        paidBy: fromStoredPaidBy(recorded?.paidBy ?? []),
        refundMicro: 6_000_000n,
        delivered: [],
        startsAtMs: later.startsAtMs,
        atMs: clock.nowMs(),
      });
      expect(ended.refundedMicro).toBe(6_000_000n);
      await world.leases.markSettled('lse_crash', clock.nowMs());
      const money = await ledger.tenantMoney('tenant-1', clock.nowMs());
      expect(money.walletBalanceMicro).toBe(11_000_000n);
      expect(money.coupons[0]?.remainingMicro).toBe(2_000_000n);
      expect(await ledger.check()).toMatchObject({ ok: true, problems: [] });
    });

    it('reserved but never charged: the lease job drops it, freeing its backends', async () => {
      const before = await ledger.tenantMoney('tenant-1', clock.nowMs());
      const atMs = clock.nowMs();
      await recordLease(world.leases, { ...lease, id: 'lse_unpaid', term: later, atMs });
      // The gateway died here: its reservation holds the backends through the claim window.
      await expect(
        recordLease(world.leases, { ...lease, id: 'lse_blocked', term: later, atMs }),
      ).rejects.toThrow(/held by another lease/);
      clock.advanceMs(leaseClaimMs + 1);
      expect(await settleLapsedLeases(lapsedDeps())).toBe(1);
      expect(await world.leases.get('lse_unpaid')).toBeUndefined();
      expect(await ledger.transactionPayers(leaseChargeKey('lse_unpaid'))).toBeUndefined();
      expect(await ledger.tenantMoney('tenant-1', clock.nowMs())).toEqual(before);
      // Free even for a reservation that counts every claim still standing.
      const next = { ...lease, id: 'lse_next', term: later, atMs: 0 };
      await recordLease(world.leases, next);
      expect(await world.leases.drop('lse_next')).toBe(true);
      expect(await ledger.check()).toMatchObject({ ok: true, problems: [] });
    });
  });
});
