/**
 * The ledger check's rules for card-hour leases (lease-operation.ts), judged against the lease's
 * own record (its terms and backends), as every store runs them:
 * - each lease transaction is keyed by the lease it names, a lease of its own tenant, so a lease
 *   is charged at most once and ended at most once;
 * - the charge (`lease`) is the recorded cost, itself the card-hour price × the accelerators its
 *   backends bring × its hours, moved exactly, posted at once from the tenant's own compute
 *   coupons (each within its coverage) and wallet straight to revenue;
 * - a charge with no lease record is a lapsed reservation's: its one end refunds it all;
 * - the end (`lease_end`) follows a charge; it refunds, from revenue, the hours the record says
 *   were not delivered (lease-terms.ts) to the charge's payers, each its pro-rata part, none when
 *   a coupon has ended since; and it credits each provider no more than its backends delivered,
 *   all shares together no more than what the refund kept.
 */

import {
  type CheckedTransaction,
  checkedTransactions,
  movedMicro,
  optionalText,
  paymentMisdirection,
} from './checked-transactions.ts';
import {
  type DeliveredValue,
  leaseChargeKey,
  leaseEndKey,
  refundParts,
} from './lease-operation.ts';
import { type LeaseTerm, leaseAccelerators, leaseOutcome } from './lease-terms.ts';
import type { PaidBy } from './ledger.ts';
import { accountIds, couponIdOfAccount } from './ledger-accounts.ts';
import { integerValue } from './program-figures.ts';

type LeaseRecord = LeaseTerm & {
  id: string;
  tenantId: string;
  accelerators: number;
  costMicro: bigint;
  endMs: number;
};

function optionalNumber(value: unknown): number | null {
  return optionalText(value) === null ? null : Number(integerValue(value));
}

function leaseRecordsOf(rows: readonly Record<string, unknown>[]): Map<string, LeaseRecord> {
  const byId = new Map<string, LeaseRecord & { backends: LeaseTerm['backends'][number][] }>();
  for (const row of rows) {
    const id = String(row.lease_id);
    const record = byId.get(id) ?? {
      id,
      tenantId: String(row.tenant_id),
      accelerators: Number(integerValue(row.accelerators)),
      hours: Number(integerValue(row.hours)),
      cardHourMicro: integerValue(row.card_hour),
      costMicro: integerValue(row.cost),
      startsAtMs: Number(integerValue(row.starts_at_ms)),
      endMs: optionalNumber(row.ended_at_ms) ?? Number(integerValue(row.ends_at_ms)),
      backends: [],
    };
    if (optionalText(row.backend_id) !== null) {
      record.backends.push({
        backendId: String(row.backend_id),
        providerId: String(row.provider_id),
        accelerators: Number(integerValue(row.backend_accelerators)),
        failedAtMs: optionalNumber(row.failed_at_ms),
      });
    }
    byId.set(id, record);
  }
  return byId;
}

function recordProblems(record: LeaseRecord): string[] {
  const problems: string[] = [];
  const brought = leaseAccelerators(record.backends);
  if (brought !== record.accelerators) {
    problems.push(
      `lease ${record.id}: records ${record.accelerators} accelerators, its backends bring ${brought}`,
    );
  }
  const termMicro = record.cardHourMicro * BigInt(record.accelerators) * BigInt(record.hours);
  if (termMicro !== record.costMicro) {
    problems.push(
      `lease ${record.id}: records a cost of ${record.costMicro}, its card-hour price × accelerators × hours is ${termMicro}`,
    );
  }
  return problems;
}

/** A charge moves exactly what it records. */
function movedProblems(charge: CheckedTransaction): string[] {
  const moved = movedMicro(charge.transfers);
  return moved === charge.amountMicro
    ? []
    : [`lease charge ${charge.key}: moved ${moved} for a cost of ${charge.amountMicro}`];
}

function chargeProblems(charge: CheckedTransaction, record: LeaseRecord): string[] {
  const problems = charge.transfers.flatMap((transfer) => {
    const why = paymentMisdirection(charge, transfer, 'compute');
    return why === undefined ? [] : [`lease charge ${charge.key}: ${why}`];
  });
  if (charge.amountMicro !== record.costMicro) {
    problems.push(
      `lease charge ${charge.key}: charged ${charge.amountMicro} for a recorded cost of ${record.costMicro}`,
    );
  }
  problems.push(...movedProblems(charge));
  return problems;
}

/** The charge's payers, in the order they paid, as its refund returns to them. */
function payersOf(charge: CheckedTransaction): { payer: PaidBy; ended: boolean }[] {
  return charge.transfers.map((transfer) => {
    const couponId = couponIdOfAccount(transfer.debit);
    return {
      payer: {
        source: couponId === undefined ? 'wallet' : 'coupon',
        id: couponId ?? null,
        kind: couponId === undefined ? 'wallet' : 'compute',
        amountMicro: transfer.amountMicro,
      },
      ended: transfer.coupon !== undefined && transfer.coupon.status !== 'active',
    };
  });
}

function payerAccount(tenantId: string, payer: PaidBy): string {
  return payer.id === null ? accountIds.wallet(tenantId) : accountIds.coupon(payer.id);
}

/** What the end credited each account, every transfer of it being posted from revenue. */
function creditsOf(end: CheckedTransaction, problems: string[]): Map<string, bigint> {
  const credited = new Map<string, bigint>();
  for (const transfer of end.transfers) {
    if (transfer.flag !== 'posted' || transfer.debit !== accountIds.revenue) {
      problems.push(`lease end ${end.key}: a ${transfer.flag} transfer from ${transfer.debit}`);
    }
    credited.set(transfer.credit, (credited.get(transfer.credit) ?? 0n) + transfer.amountMicro);
  }
  return credited;
}

function refundProblems(
  end: CheckedTransaction,
  charge: CheckedTransaction,
  refundMicro: bigint,
  refunds: Map<string, bigint>,
): string[] {
  const payers = payersOf(charge);
  const parts = refundParts(
    payers.map(({ payer }) => payer),
    charge.amountMicro,
    refundMicro,
  );
  const owed = new Map(parts.map((part) => [payerAccount(end.tenantId, part), part.amountMicro]));
  const endedCoupons = new Set(
    payers.filter(({ ended }) => ended).map(({ payer }) => payerAccount(end.tenantId, payer)),
  );
  const problems = [...new Set([...owed.keys(), ...refunds.keys()])].flatMap((account) => {
    const refundedMicro = refunds.get(account) ?? 0n;
    const partMicro = owed.get(account) ?? 0n;
    const forfeited = refundedMicro === 0n && endedCoupons.has(account);
    return refundedMicro === partMicro || forfeited
      ? []
      : [
          `lease end ${end.key}: refunded ${refundedMicro} to ${account}, its pro-rata part is ${partMicro}`,
        ];
  });
  const refundedMicro = sumOf(refunds);
  if (refundedMicro > charge.amountMicro) {
    problems.push(
      `lease end ${end.key}: refunded ${refundedMicro} of a charge of ${charge.amountMicro}`,
    );
  }
  if (refundedMicro !== end.amountMicro) {
    problems.push(
      `lease end ${end.key}: records ${end.amountMicro} refunded, moved ${refundedMicro}`,
    );
  }
  return problems;
}

function sumOf(amounts: Map<string, bigint>): bigint {
  return [...amounts.values()].reduce((sum, amount) => sum + amount, 0n);
}

function shareProblems(
  end: CheckedTransaction,
  charge: CheckedTransaction,
  delivered: readonly DeliveredValue[],
  shares: Map<string, bigint>,
  keptMicro: bigint,
): string[] {
  const deliveredTo = new Map(
    delivered.map((value) => [accountIds.providerPayable(value.providerId), value.valueMicro]),
  );
  const problems = [...shares].flatMap(([account, shareMicro]) => {
    const deliveredMicro = deliveredTo.get(account) ?? 0n;
    return shareMicro <= deliveredMicro
      ? []
      : [`lease end ${end.key}: ${account} credited ${shareMicro} for ${deliveredMicro} delivered`];
  });
  const sharesMicro = sumOf(shares);
  if (sharesMicro > keptMicro) {
    problems.push(
      `lease end ${end.key}: provider shares ${sharesMicro} exceed the ${keptMicro} kept of ${charge.amountMicro}`,
    );
  }
  return problems;
}

function endProblems(end: CheckedTransaction, charge: CheckedTransaction, record: LeaseRecord) {
  const problems: string[] = [];
  const credited = creditsOf(end, problems);
  const providerPrefix = accountIds.providerPayable('');
  const shares = new Map([...credited].filter(([account]) => account.startsWith(providerPrefix)));
  const refunds = new Map([...credited].filter(([account]) => !shares.has(account)));
  const outcome = leaseOutcome(record, record.endMs);
  return [
    ...problems,
    ...refundProblems(end, charge, outcome.refundMicro, refunds),
    ...shareProblems(end, charge, outcome.delivered, shares, charge.amountMicro - sumOf(refunds)),
  ];
}

/** The key a transaction of this kind has when it is keyed by the lease it names. */
function expectedKey(transaction: CheckedTransaction): string | undefined {
  if (transaction.reference === null) {
    return undefined;
  }
  return transaction.kind === 'lease'
    ? leaseChargeKey(transaction.reference)
    : leaseEndKey(transaction.reference);
}

function countProblems(leaseId: string, charges: number, ends: number): string[] {
  return [
    ...(charges > 1 ? [`lease ${leaseId} charged ${charges} times`] : []),
    ...(ends > 1 ? [`lease ${leaseId} ended ${ends} times`] : []),
    ...(ends > 0 && charges === 0 ? [`lease ${leaseId} ended but never charged`] : []),
  ];
}

/**
 * A lease with no record is consistent only as a reservation that lapsed while its charge was
 * landing (open-lease.ts): charged once, then refunded in full to its payers, nobody paid for it.
 */
function lapsedLeaseProblems(
  leaseId: string,
  charge: CheckedTransaction | undefined,
  ends: readonly CheckedTransaction[],
): string[] {
  const missing = `lease ${leaseId}: charged or ended without a lease record`;
  const [end] = ends;
  if (charge === undefined || end === undefined || ends.length !== 1) {
    return [missing];
  }
  const problems: string[] = [];
  const credited = creditsOf(end, problems);
  problems.push(...movedProblems(charge));
  problems.push(...refundProblems(end, charge, charge.amountMicro, credited));
  return problems.length === 0 ? [] : [missing, ...problems];
}

function leaseTransactionProblems(
  leaseId: string,
  transactions: readonly CheckedTransaction[],
  record: LeaseRecord | undefined,
): string[] {
  const charges = transactions.filter((transaction) => transaction.kind === 'lease');
  const ends = transactions.filter((transaction) => transaction.kind === 'lease_end');
  const problems = countProblems(leaseId, charges.length, ends.length);
  const [charge] = charges;
  if (!record) {
    return [...problems, ...lapsedLeaseProblems(leaseId, charge, ends)];
  }
  problems.push(...recordProblems(record));
  for (const transaction of transactions) {
    if (transaction.tenantId !== record.tenantId) {
      problems.push(
        `transaction ${transaction.key}: a ${transaction.kind} of tenant ${transaction.tenantId} for a lease of ${record.tenantId}`,
      );
    }
  }
  if (charge) {
    problems.push(...chargeProblems(charge, record));
    for (const end of ends) {
      problems.push(...endProblems(end, charge, record));
    }
  }
  return problems;
}

export function leaseProblems(
  transactionRows: readonly Record<string, unknown>[],
  recordRows: readonly Record<string, unknown>[],
): string[] {
  const records = leaseRecordsOf(recordRows);
  const byLease = new Map<string, CheckedTransaction[]>();
  const problems: string[] = [];
  for (const transaction of checkedTransactions(transactionRows)) {
    if (transaction.reference === null || expectedKey(transaction) !== transaction.key) {
      problems.push(`transaction ${transaction.key}: a ${transaction.kind} not keyed by its lease`);
    }
    const leaseId = transaction.reference ?? transaction.key;
    byLease.set(leaseId, [...(byLease.get(leaseId) ?? []), transaction]);
  }
  for (const [leaseId, transactions] of byLease) {
    problems.push(...leaseTransactionProblems(leaseId, transactions, records.get(leaseId)));
  }
  return problems;
}
