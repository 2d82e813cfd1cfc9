/**
 * The check after every command of the ledger's property suite: the store's accounts, tenants'
 * money, usage records, payouts and adjustments must equal the reference model's to the
 * micro-unit, each settled request must pay by the rules on its own, and the ledger's own check
 * must find nothing wrong.
 */
import { expect } from 'vitest';
import type { CouponState, UsageRecord } from '../../../src/billing/ledger.ts';
import { parseMoney } from '../../../src/billing/money.ts';
import type { AccountRow } from '../ledger-stores.ts';
import { type ChargedLine, coversLine } from './coupon-spending.ts';
import { everything, providers, tenantIds } from './fixed-world.ts';
import {
  type CouponModel,
  couponAvailable,
  couponNamed,
  coverageOf,
  type Ending,
  type Model,
  openReservations,
  type World,
  walletAvailable,
} from './reference-model.ts';

function pendingDebitOf(model: Model, accountId: string): bigint {
  if (accountId.startsWith('wallet:')) {
    return model.walletHeld.get(accountId.slice('wallet:'.length)) ?? 0n;
  }
  if (accountId.startsWith('coupon:')) {
    return couponNamed(model, accountId.slice('coupon:'.length)).heldMicro;
  }
  return 0n;
}

function totalHeld(model: Model): bigint {
  return openReservations(model)
    .flatMap((reservation) => reservation.holds)
    .reduce((sum, hold) => sum + hold.heldMicro, 0n);
}

export function couponView(coupon: CouponModel | CouponState) {
  const remainingMicro =
    'remainingMicro' in coupon ? coupon.remainingMicro : couponAvailable(coupon);
  return {
    id: coupon.id,
    kind: coupon.kind,
    program: coupon.program,
    amountMicro: coupon.amountMicro,
    remainingMicro,
    heldMicro: coupon.heldMicro,
    coverageBps: coupon.coverageBps,
    models: coupon.models,
    regions: coupon.regions,
    priority: coupon.priority,
    startsAtMs: coupon.startsAtMs,
    expiresAtMs: coupon.expiresAtMs,
    status: coupon.status,
    reference: coupon.reference,
  };
}

/** Oracle-free invariants of one settled request: its payers add up and each coupon may pay. */
function paymentViolations(record: UsageRecord, model: Model): string[] {
  const violations: string[] = [];
  const paid = record.paidBy.reduce((sum, payer) => sum + payer.amountMicro, 0n);
  if (paid !== record.costMicro) {
    violations.push(
      `${record.requestId}: payers add up to ${paid}, the cost is ${record.costMicro}`,
    );
  }
  const linesMicro = (['compute', 'transport', 'storage'] as const).reduce(
    (sum, kind) => sum + recordedCostOfKind(record, kind),
    0n,
  );
  if (record.lines.length > 0 && linesMicro !== record.costMicro) {
    violations.push(
      `${record.requestId}: lines add up to ${linesMicro}, the cost is ${record.costMicro}`,
    );
  }
  for (const payer of record.paidBy) {
    if (payer.amountMicro <= 0n) {
      violations.push(`${record.requestId}: ${payer.source} paid ${payer.amountMicro}`);
    }
    if (payer.source !== 'coupon') {
      continue;
    }
    const coupon = couponNamed(model, payer.id ?? '');
    const line: ChargedLine = {
      kind: coupon.kind,
      model: record.model,
      region: record.region ?? '',
      admittedAtMs: record.createdAtMs,
    };
    if (!coversLine(coupon, line)) {
      violations.push(
        `${record.requestId}: coupon ${coupon.id} paid outside its scope or validity`,
      );
    }
    if (payer.amountMicro > coverageOf(coupon, recordedCostOfKind(record, coupon.kind))) {
      violations.push(`${record.requestId}: coupon ${coupon.id} paid beyond its coverage`);
    }
  }
  return violations;
}

/** The coupon kind paying each meter's lines, as API.md's meters table says. */
function kindPaying(meter: string): CouponModel['kind'] {
  return meter === 'transport_gb'
    ? 'transport'
    : meter === 'storage_gb_hour'
      ? 'storage'
      : 'compute';
}

/** What a usage record's lines of one coupon kind cost together. */
function recordedCostOfKind(record: UsageRecord, kind: CouponModel['kind']): bigint {
  return record.lines
    .filter((line) => kindPaying(line.meter) === kind)
    .reduce((sum, line) => {
      const parsed = parseMoney(line.cost);
      if (!parsed.ok) {
        throw new Error(`${record.requestId}: a line costs ${line.cost}`);
      }
      return sum + parsed.micro;
    }, 0n);
}

function expectedEndings(model: Model, tenantId: string) {
  const endings: (Ending & { requestId: string })[] = [];
  for (const reservation of model.reservations) {
    if (reservation.tenantId === tenantId && reservation.ending) {
      endings.push({ requestId: reservation.requestId, ...reservation.ending });
    }
  }
  for (const rejected of model.rejected) {
    if (rejected.tenantId === tenantId) {
      endings.push({
        requestId: rejected.requestId,
        costMicro: 0n,
        paidBy: [],
        outcome: 'rejected',
      });
    }
  }
  return endings.sort((left, right) => left.requestId.localeCompare(right.requestId));
}

/**
 * Everything the agreement compares, read at once: the reads are independent, and issued
 * together they cross to a store over the network (PostgreSQL, the Durable Objects) together.
 */
async function readLedger(world: World, nowMs: number) {
  const { ledger } = world;
  const [checked, rows, tenants, operator] = await Promise.all([
    ledger.check(),
    world.store.accountRows(),
    Promise.all(
      tenantIds.map((tenantId) =>
        Promise.all([
          ledger.tenantMoney(tenantId, nowMs),
          ledger.usage(tenantId, everything),
          ledger.adjustments(tenantId, 1_000),
        ]),
      ),
    ),
    Promise.all(
      providers.map(({ id }) =>
        Promise.all([
          ledger.providerBalance(id),
          ledger.paidOut(id, everything),
          ledger.payouts(id, 1_000),
        ]),
      ),
    ),
  ]);
  return { checked, rows, tenants, operator };
}

type LedgerRead = Awaited<ReturnType<typeof readLedger>>;

export async function expectAgreement(model: Model, world: World): Promise<void> {
  const read = await readLedger(world, model.nowMs);
  expect(read.checked.problems).toEqual([]);
  expect(read.checked.ok).toBe(true);

  const rows: AccountRow[] = read.rows;
  const accountIds = [...new Set([...rows.map((row) => row.id), ...model.balances.keys()])].sort();
  const expectedAccount = (id: string) => ({
    id,
    balance: id.startsWith('coupon:')
      ? couponNamed(model, id.slice('coupon:'.length)).balanceMicro
      : (model.balances.get(id) ?? 0n),
    debitsPending: pendingDebitOf(model, id),
    creditsPending: id === 'holds' ? totalHeld(model) : 0n,
  });
  const actualAccount = (id: string) => {
    const row = rows.find((candidate) => candidate.id === id);
    return {
      id,
      balance: row?.balance ?? 0n,
      debitsPending: row?.debitsPending ?? 0n,
      creditsPending: row?.creditsPending ?? 0n,
    };
  };
  expect(accountIds.map(actualAccount)).toEqual(accountIds.map(expectedAccount));

  tenantIds.forEach((tenantId, index) => {
    const [money, records] = read.tenants[index] ?? [];
    if (!money || !records) {
      throw new Error(`no read of ${tenantId}`);
    }
    const tenantCoupons = model.coupons.filter((coupon) => coupon.tenantId === tenantId);
    const overdrawn = [
      ...(money.walletBalanceMicro < 0n ? [`wallet ${money.walletBalanceMicro}`] : []),
      ...money.coupons
        .filter((coupon) => coupon.remainingMicro < 0n)
        .map((coupon) => `coupon ${coupon.id} ${coupon.remainingMicro}`),
    ];
    expect(overdrawn, `${tenantId} is never overdrawn`).toEqual([]);
    expect({
      walletBalanceMicro: money.walletBalanceMicro,
      holdsMicro: money.holdsMicro,
      coupons: money.coupons.map(couponView),
    }).toEqual({
      walletBalanceMicro: walletAvailable(model, tenantId),
      holdsMicro:
        (model.walletHeld.get(tenantId) ?? 0n) +
        tenantCoupons.reduce((sum, coupon) => sum + coupon.heldMicro, 0n),
      coupons: tenantCoupons.map(couponView),
    });

    const endings = records
      .map((record) => ({
        requestId: record.requestId,
        costMicro: record.costMicro,
        paidBy: record.paidBy,
        outcome: record.outcome,
      }))
      .sort((left, right) => left.requestId.localeCompare(right.requestId));
    expect(endings).toEqual(expectedEndings(model, tenantId));
    expect(records.flatMap((record) => paymentViolations(record, model))).toEqual([]);
  });

  if (openReservations(model).length === 0) {
    const held = rows.filter((row) => row.debitsPending !== 0n || row.creditsPending !== 0n);
    expect(held, 'no hold is left once every request ended').toEqual([]);
  }
  expectOperatorMovements(model, read);
}

/** Payouts and adjustments as the model made them, newest first; what each provider is owed. */
function expectOperatorMovements(model: Model, read: LedgerRead): void {
  providers.forEach(({ id }, index) => {
    const [balance, paidOut, listed] = read.operator[index] ?? [];
    const paid = model.payouts.filter((payout) => payout.providerId === id);
    const paidMicro = paid.reduce((sum, payout) => sum + payout.amountMicro, 0n);
    const unpaidMicro = model.balances.get(`provider_payable:${id}`) ?? 0n;
    expect(balance).toEqual({
      earnedMicro: unpaidMicro + paidMicro,
      paidMicro,
      unpaidMicro,
    });
    expect(paidOut).toBe(paidMicro);
    expect(listed?.map(({ reference, amountMicro }) => ({ reference, amountMicro }))).toEqual(
      paid.map(({ reference, amountMicro }) => ({ reference, amountMicro })).reverse(),
    );
  });
  tenantIds.forEach((tenantId, index) => {
    const listed = read.tenants[index]?.[2];
    expect(
      listed?.map(({ reference, amountMicro, reason }) => ({ reference, amountMicro, reason })),
    ).toEqual(
      model.adjustments
        .filter((adjustment) => adjustment.tenantId === tenantId)
        .map(({ reference, amountMicro, reason }) => ({ reference, amountMicro, reason }))
        .reverse(),
    );
  });
}
