/**
 * The storage charge of one tick, as every store runs it inside one LedgerUnit: the bytes a
 * tenant held, for the tick's length, at the storage price, paid by storage coupons first, then
 * the wallet, straight to revenue (stored bytes are the bank's own service: no provider share).
 * One transaction per tenant and tick (`storage:{tenant}:{tick start}`), so a tick charged twice
 * (a retry, a second replica) changes nothing.
 *
 * A tick the tenant cannot pay in full is not charged at all: no balance goes below zero and no
 * part-payment is taken. It is recorded as a `storage_unpaid` transaction moving no money, its
 * reference the start of the arrears (the first unpaid tick of an unbroken run), so the caller
 * knows how long the tenant has not paid and can delete its files once the grace period is over.
 */
import type { PaidBy } from './ledger.ts';
import { accountIds } from './ledger-accounts.ts';
import type { LedgerUnit } from './ledger-unit.ts';
import { chargeLinesOf, linesCost, type MeterLine, meterLine } from './meters.ts';
import { allocateLines, mergeAllocations } from './waterfall.ts';

export type StorageChargeInput = {
  tenantId: string;
  tickStartMs: number;
  tickMs: number;
  /** Bytes the tenant held over the tick. */
  bytes: number;
  /** Micro-units per GB-hour. */
  pricePerGbHourMicro: bigint;
  /** The tenant's home region ('' without one): coupons scoped by region are judged by it. */
  region: string;
  atMs: number;
};

export type StorageChargeResult = {
  paid: boolean;
  costMicro: bigint;
  lines: MeterLine[];
  paidBy: PaidBy[];
  /** The first unpaid tick of the arrears this tick is part of; null when it was paid. */
  arrearsSinceMs: number | null;
  duplicate: boolean;
};

export function storageReference(tenantId: string, tickStartMs: number): string {
  return `storage:${tenantId}:${tickStartMs}`;
}

const millisecondsPerSecond = 1_000;

/** The tick's line: bytes × seconds held, priced per GB-hour. */
export function storageLine(input: StorageChargeInput): MeterLine {
  const byteSeconds = (BigInt(input.bytes) * BigInt(input.tickMs)) / BigInt(millisecondsPerSecond);
  return meterLine('storage_gb_hour', byteSeconds, input.pricePerGbHourMicro);
}

/** Where an unbroken run of unpaid ticks began: the tick before's start of arrears, else this one. */
function arrearsStart(unit: LedgerUnit, input: StorageChargeInput): number {
  const before = unit.transaction(
    storageReference(input.tenantId, input.tickStartMs - input.tickMs),
  );
  return before?.kind === 'storage_unpaid' && before.reference !== null
    ? Number(before.reference)
    : input.tickStartMs;
}

export function storageChargeOperation(
  unit: LedgerUnit,
  input: StorageChargeInput,
): StorageChargeResult {
  const idempotencyKey = storageReference(input.tenantId, input.tickStartMs);
  const existing = unit.transaction(idempotencyKey);
  if (existing) {
    const unpaid = existing.kind === 'storage_unpaid';
    return {
      paid: !unpaid,
      costMicro: existing.amountMicro,
      lines: [],
      paidBy: [],
      arrearsSinceMs: unpaid ? Number(existing.reference) : null,
      duplicate: true,
    };
  }
  const lines = [storageLine(input)];
  const costMicro = linesCost(lines);
  const allocation = mergeAllocations(
    allocateLines(
      chargeLinesOf(lines, { model: '', region: input.region, atMs: input.atMs }),
      unit.couponsOfTenant(input.tenantId),
      unit.walletAvailableMicro(input.tenantId),
    ),
  );
  const base = {
    tenantId: input.tenantId,
    requestId: null,
    amountMicro: costMicro,
    atMs: input.atMs,
  };
  if (allocation.shortfallMicro > 0n) {
    const arrearsSinceMs = arrearsStart(unit, input);
    unit.insertTransaction({
      ...base,
      idempotencyKey,
      kind: 'storage_unpaid',
      reference: String(arrearsSinceMs),
    });
    return { paid: false, costMicro, lines, paidBy: [], arrearsSinceMs, duplicate: false };
  }
  const transactionId = unit.insertTransaction({
    ...base,
    idempotencyKey,
    kind: 'storage',
    reference: null,
  });
  const paidBy: PaidBy[] = allocation.coupons.map((take) => {
    unit.post(
      transactionId,
      accountIds.coupon(take.grantId),
      accountIds.revenue,
      take.amountMicro,
      input.atMs,
    );
    return { source: 'coupon', id: take.grantId, kind: 'storage', amountMicro: take.amountMicro };
  });
  if (allocation.walletMicro > 0n) {
    unit.post(
      transactionId,
      accountIds.wallet(input.tenantId),
      accountIds.revenue,
      allocation.walletMicro,
      input.atMs,
    );
    paidBy.push({
      source: 'wallet',
      id: null,
      kind: 'wallet',
      amountMicro: allocation.walletMicro,
    });
  }
  return { paid: true, costMicro, lines, paidBy, arrearsSinceMs: null, duplicate: false };
}
