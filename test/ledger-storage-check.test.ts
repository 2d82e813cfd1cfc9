/**
 * The ledger check of storage ticks on every store, SQLite and PostgreSQL: ticks charged by the
 * ledger (one paid by a storage coupon within its coverage and the wallet, one unpaid) pass, and
 * each rule of billing/storage-check.ts is broken on purpose by a row changed from outside the
 * ledger, as a faulty writer would leave it, without unbalancing any account: the check must
 * name that tick (a relabelled tick also unbalances its program's statement: that rule may speak
 * up too).
 */
import { expect } from 'vitest';
import type { Ledger } from '../src/billing/ledger.ts';
import {
  type BrokenRule,
  describeLedgerCheckRules,
  halfCoverageCoupon,
  unitPrice,
} from './support/ledger-check-rules.ts';

const seed = {
  tenants: [
    { id: 'tenant-1', clampAllowed: false },
    { id: 'tenant-2', clampAllowed: false },
  ],
  providers: [{ id: 'provider-1', payoutBps: 7_000 }],
  backends: [{ id: 'backend-1', providerId: 'provider-1', region: 'east', models: ['model-a'] }],
  prices: [{ price: unitPrice, model: 'model-a', version: 1 }],
};
const tickMs = 1_000;
const paidTick = 'storage:tenant-1:0';
const unpaidTick = 'storage:tenant-1:1000';

/** A GB held for a one-second tick at 3.60 per GB-hour: 1,000 micro-units. */
function chargeTick(ledger: Ledger, tickStartMs: number) {
  return ledger.chargeStorage({
    tenantId: 'tenant-1',
    tickStartMs,
    tickMs,
    bytes: 1_000_000_000,
    pricePerGbHourMicro: 3_600_000n,
    region: '',
    atMs: tickStartMs + tickMs,
  });
}

/**
 * Tick 0 is paid half by the coupon (its coverage), half by the wallet; tick 1,000 finds the
 * coupon's last 500 and a wallet of 100, and goes unpaid.
 */
async function chargePaidAndUnpaidTicks(ledger: Ledger): Promise<void> {
  await ledger.topUp({ tenantId: 'tenant-1', amountMicro: 600n, reference: 'pay-1', atMs: 0 });
  await ledger.grantCoupon(
    halfCoverageCoupon({ kind: 'storage', program: 'storage-promo', amountMicro: 1_000n }),
  );
  expect(await chargeTick(ledger, 0)).toMatchObject({ paid: true, costMicro: 1_000n });
  expect(await chargeTick(ledger, tickMs)).toMatchObject({ paid: false, arrearsSinceMs: tickMs });
}

const rules: readonly BrokenRule[] = [
  {
    rule: 'a paid tick moves exactly its cost',
    sql: `UPDATE ledger_transactions SET amount = 1001 WHERE idempotency_key = '${paidTick}'`,
    problem: `storage tick ${paidTick}: moved 1000 for a cost of 1001`,
  },
  {
    rule: 'an unpaid tick moves nothing',
    sql: `UPDATE ledger_transactions SET kind = 'storage_unpaid', reference = '0' WHERE idempotency_key = '${paidTick}'`,
    problem: `storage tick ${paidTick} went unpaid but moved money`,
  },
  {
    rule: 'arrears start no later than the unpaid tick',
    sql: `UPDATE ledger_transactions SET reference = '2000' WHERE idempotency_key = '${unpaidTick}'`,
    problem: `storage tick ${unpaidTick}: arrears since 2000, not a start at or before the tick`,
  },
  {
    rule: 'a tick is keyed by its own tenant, so each tenant is charged once a tick',
    sql: `UPDATE ledger_transactions SET tenant_id = 'tenant-2' WHERE idempotency_key = '${paidTick}'`,
    problem: `transaction ${paidTick}: a storage not keyed by its tenant tenant-2 and a tick`,
  },
  {
    rule: 'only storage coupons pay storage',
    sql: `UPDATE coupons SET kind = 'compute' WHERE id = 'coupon-1'`,
    problem: `storage tick ${paidTick}: a transfer from coupon:coupon-1`,
  },
  {
    rule: 'a coupon pays within its coverage',
    sql: `UPDATE coupons SET coverage_bps = 4000 WHERE id = 'coupon-1'`,
    problem: `storage tick ${paidTick}: coupon:coupon-1 paying 500, beyond its coverage`,
  },
];

describeLedgerCheckRules({
  subject: 'storage ticks',
  seed,
  prepare: chargePaidAndUnpaidTicks,
  prepared: 'ticks charged by the ledger',
  rules,
});
