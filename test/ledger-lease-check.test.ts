/**
 * The ledger check of card-hour leases on every store, SQLite and PostgreSQL: a lease charged by
 * the ledger (half by a compute coupon, its coverage, half by the wallet) and ended early in its
 * first hour passes, and each rule of billing/lease-check.ts is broken on purpose by a row changed
 * from outside the ledger, as a faulty writer would leave it: the check must name that lease.
 */
import { expect } from 'vitest';
import { leaseOutcome } from '../src/billing/lease-terms.ts';
import type { Ledger } from '../src/billing/ledger.ts';
import { toStoredPaidBy } from '../src/billing/paid-by.ts';
import { recordLease } from './support/lease-records.ts';
import {
  type BrokenRule,
  describeLedgerCheckRules,
  halfCoverageCoupon,
  unitPrice,
} from './support/ledger-check-rules.ts';
import type { LedgerWorld } from './support/ledger-stores.ts';

const seed = {
  tenants: [
    { id: 'tenant-1', clampAllowed: false },
    { id: 'tenant-2', clampAllowed: false },
  ],
  providers: [
    { id: 'provider-1', payoutBps: 7_000 },
    { id: 'provider-2', payoutBps: 5_000 },
  ],
  backends: [],
  prices: [{ price: unitPrice, model: 'model-a', version: 1 }],
};

/** 3 accelerators (2 of provider-1, 1 of provider-2) for 2 hours at 1.00 an accelerator-hour. */
const term = {
  startsAtMs: 10,
  hours: 2,
  cardHourMicro: 1_000_000n,
  backends: [
    { backendId: 'backend-a', providerId: 'provider-1', accelerators: 2, failedAtMs: null },
    { backendId: 'backend-b', providerId: 'provider-2', accelerators: 1, failedAtMs: null },
  ],
};
const charge = 'lease:lse_1';
const end = 'lease_end:lse_1';
/** The end's transfer to `credit`, as an UPDATE's condition. */
const endTransfers = (credit: string) =>
  `WHERE credit_account_id = '${credit}' AND transaction_id =
    (SELECT id FROM ledger_transactions WHERE idempotency_key = '${end}')`;

/**
 * The charge of 6.00 takes 3.00 from the coupon (half its coverage) and 3.00 from the wallet;
 * ended in its first hour, it refunds the second, 3.00, 1.50 to each, and pays provider-1 70%
 * of 2.00 and provider-2 50% of 1.00.
 */
async function chargeAndEndEarly(ledger: Ledger, world: LedgerWorld): Promise<void> {
  await ledger.topUp({ tenantId: 'tenant-1', amountMicro: 10_000_000n, reference: 'p', atMs: 0 });
  await ledger.grantCoupon(
    halfCoverageCoupon({ kind: 'compute', program: 'gpu-grant', amountMicro: 4_000_000n }),
  );
  const lease = { tenantId: 'tenant-1', model: 'model-a' };
  const line = await recordLease(world.leases, { ...lease, id: 'lse_1', term, atMs: 10 });
  const charged = await ledger.chargeLease({
    ...lease,
    leaseId: 'lse_1',
    region: 'east',
    line,
    atMs: 10,
  });
  if (!charged.paid) {
    throw new Error('the tenant can pay the lease');
  }
  await world.leases.markPaid('lse_1', toStoredPaidBy(charged.paidBy), 10);
  await world.leases.endEarly('lse_1', 20);
  const outcome = leaseOutcome(term, 20);
  expect(
    await ledger.endLease({
      leaseId: 'lse_1',
      tenantId: 'tenant-1',
      costMicro: charged.costMicro,
      paidBy: charged.paidBy,
      ...outcome,
      startsAtMs: term.startsAtMs,
      atMs: 20,
    }),
  ).toEqual({ refundedMicro: 3_000_000n, providerSharesMicro: 1_900_000n, duplicate: false });
}

const rules: readonly BrokenRule[] = [
  {
    rule: 'a charge moves exactly its cost',
    sql: `UPDATE ledger_transactions SET amount = 6000001 WHERE idempotency_key = '${charge}'`,
    problem: `lease charge ${charge}: moved 6000000 for a cost of 6000001`,
  },
  {
    rule: 'a charge is the cost its lease records',
    sql: `UPDATE leases SET cost = 5000000 WHERE id = 'lse_1'`,
    problem: `lease charge ${charge}: charged 6000000 for a recorded cost of 5000000`,
  },
  {
    rule: 'the recorded cost is the card-hour price × accelerators × hours',
    sql: `UPDATE leases SET hours = 3 WHERE id = 'lse_1'`,
    problem:
      'lease lse_1: records a cost of 6000000, its card-hour price × accelerators × hours is 9000000',
  },
  {
    rule: 'the recorded accelerators are what its backends bring',
    sql: `UPDATE lease_backends SET accelerators = 3 WHERE backend_id = 'backend-a'`,
    problem: 'lease lse_1: records 3 accelerators, its backends bring 4',
  },
  {
    rule: 'only compute coupons pay a lease',
    sql: `UPDATE coupons SET kind = 'storage' WHERE id = 'coupon-1'`,
    problem: `lease charge ${charge}: a transfer from coupon:coupon-1`,
  },
  {
    rule: 'a coupon pays within its coverage',
    sql: `UPDATE coupons SET coverage_bps = 4000 WHERE id = 'coupon-1'`,
    problem: `lease charge ${charge}: coupon:coupon-1 paying 3000000, beyond its coverage`,
  },
  {
    rule: "a lease's transactions are its own tenant's",
    sql: `UPDATE ledger_transactions SET tenant_id = 'tenant-2' WHERE idempotency_key = '${charge}'`,
    problem: `transaction ${charge}: a lease of tenant tenant-2 for a lease of tenant-1`,
  },
  {
    rule: 'a charge is keyed by its lease',
    sql: `UPDATE ledger_transactions SET reference = 'lse_2' WHERE idempotency_key = '${charge}'`,
    problem: `transaction ${charge}: a lease not keyed by its lease`,
  },
  {
    rule: 'a lease is charged at most once',
    sql: `UPDATE ledger_transactions SET kind = 'lease' WHERE idempotency_key = '${end}'`,
    problem: 'lease lse_1 charged 2 times',
  },
  {
    rule: 'a lease is ended at most once',
    sql: `UPDATE ledger_transactions SET kind = 'lease_end' WHERE idempotency_key = '${charge}'`,
    problem: 'lease lse_1 ended 2 times',
  },
  {
    rule: 'an end follows a charge',
    sql: `DELETE FROM transfers WHERE transaction_id =
        (SELECT id FROM ledger_transactions WHERE idempotency_key = '${charge}');
        DELETE FROM ledger_transactions WHERE idempotency_key = '${charge}'`,
    problem: 'lease lse_1 ended but never charged',
  },
  {
    rule: 'a lease charged has a record',
    sql: `DELETE FROM lease_backends WHERE lease_id = 'lse_1'; DELETE FROM leases WHERE id = 'lse_1'`,
    problem: 'lease lse_1: charged or ended without a lease record',
  },
  {
    rule: 'a refund goes to each payer pro rata',
    sql: `UPDATE transfers SET credit_account_id = 'wallet:tenant-1' ${endTransfers('coupon:coupon-1')}`,
    problem: `lease end ${end}: refunded 3000000 to wallet:tenant-1, its pro-rata part is 1500000`,
  },
  {
    rule: 'a refund returns the hours the record says were not delivered',
    sql: `UPDATE leases SET ended_at_ms = 3600011 WHERE id = 'lse_1'`,
    problem: `lease end ${end}: refunded 1500000 to coupon:coupon-1, its pro-rata part is 0`,
  },
  {
    rule: 'a refund returns at most what was charged',
    sql: `UPDATE transfers SET amount = 7000000 ${endTransfers('wallet:tenant-1')}`,
    problem: `lease end ${end}: refunded 8500000 of a charge of 6000000`,
  },
  {
    rule: 'a provider is credited at most what its backends delivered',
    sql: `UPDATE transfers SET amount = 2900000 ${endTransfers('provider_payable:provider-1')}`,
    problem: `lease end ${end}: provider_payable:provider-1 credited 2900000 for 2000000 delivered`,
  },
  {
    rule: 'the providers share at most what was kept',
    sql: `UPDATE transfers SET amount = 2900000 ${endTransfers('provider_payable:provider-1')}`,
    problem: `lease end ${end}: provider shares 3400000 exceed the 3000000 kept of 6000000`,
  },
];

describeLedgerCheckRules({
  subject: 'leases',
  seed,
  prepare: chargeAndEndEarly,
  prepared: 'a lease charged and ended by the ledger',
  rules,
});
