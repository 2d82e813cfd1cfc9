/**
 * The ledger check (DESIGN.md §4 invariants), as every store runs it: each balance recomputed
 * from the transfers, no guarded account (nor a provider's payable) overdrawn, global debits
 * equal to credits, every settled request paid exactly its cost, no provider paid a share of
 * money never collected, no hold left on a request that ended, no ended grant with money still
 * available, every subsidy program's statement figures equal to the ledger's movements
 * (program-figures.ts), the programs' expiries to what breakage holds, and the meters' own rules
 * for storage ticks (storage-check.ts) and leases (lease-check.ts). The queries live in db/
 * (ledger-check-queries.ts, program-figures-queries.ts); this module turns their rows into
 * problems.
 */
import { shareOf } from './cost.ts';
import { leaseProblems } from './lease-check.ts';
import type { LedgerCheck } from './ledger.ts';
import { formatMoney } from './money.ts';
import { integerValue, type ProgramFigureSet, reconcileProgramFigures } from './program-figures.ts';
import { storageChargeProblems } from './storage-check.ts';

/** The queries of the check, by name; each answers rows with the columns read below. */
export type LedgerCheckQueryName =
  | 'mismatchedAccounts'
  | 'overdrawnAccounts'
  | 'globalTotals'
  | 'settledPayments'
  | 'providerShares'
  | 'endedWithHolds'
  | 'endedGrantsWithMoney'
  | 'breakageBalance'
  | 'counts'
  | 'storageCharges'
  | 'leaseCharges'
  | 'leaseRecords';

/** Runs one read-only query of the check in the store's snapshot. */
export type CheckQuery = (name: LedgerCheckQueryName) => Promise<Record<string, unknown>[]>;

function balanceProblems(
  mismatched: readonly Record<string, unknown>[],
  overdrawn: readonly Record<string, unknown>[],
  totals: Record<string, unknown> | undefined,
): string[] {
  const problems = [
    ...mismatched.map(
      (row) => `account ${String(row.id)}: stored totals differ from its transfers`,
    ),
    ...overdrawn.map((row) => `account ${String(row.id)} is overdrawn`),
  ];
  if (
    totals &&
    (integerValue(totals.dp) !== integerValue(totals.cp) ||
      integerValue(totals.dq) !== integerValue(totals.cq))
  ) {
    problems.push('global debits and credits differ');
  }
  return problems;
}

function paymentProblems(settled: readonly Record<string, unknown>[]): string[] {
  return settled.flatMap((row) => {
    const collected = integerValue(row.collected);
    const cost = integerValue(row.cost);
    return collected === cost
      ? []
      : [`request ${String(row.request_id)}: paid ${collected} for a cost of ${cost}`];
  });
}

/** A provider is paid its rate of what the tenant paid, never of what was written off. */
export function providerShareProblems(shares: readonly Record<string, unknown>[]): string[] {
  return shares.flatMap((row) => {
    const collected = integerValue(row.cost) - integerValue(row.written_off);
    const allowed = shareOf(collected, Number(integerValue(row.payout_bps)));
    const share = integerValue(row.provider_share);
    return share <= allowed
      ? []
      : [
          `request ${String(row.request_id)}: provider share ${share} exceeds ${allowed} of ${collected} collected`,
        ];
  });
}

/** Every program's figures of all time reconcile, and their expiries are what breakage holds. */
export function programProblems(
  set: ProgramFigureSet,
  breakage: Record<string, unknown> | undefined,
): string[] {
  const expiredMicro = set.figures.reduce((sum, figure) => sum + figure.ledger.expiredMicro, 0n);
  const breakageMicro = integerValue(breakage?.balance);
  return [
    ...reconcileProgramFigures(set.figures),
    ...(expiredMicro === breakageMicro
      ? []
      : [
          `programs' coupons expired ${formatMoney(expiredMicro)}, breakage holds ${formatMoney(breakageMicro)}`,
        ]),
  ];
}

/**
 * Runs the check: `query` for the invariants, `programFigures` for every program's figures of
 * all time, both in the same snapshot.
 */
export async function checkLedger(
  query: CheckQuery,
  programFigures: () => Promise<ProgramFigureSet>,
): Promise<LedgerCheck> {
  const [totals] = await query('globalTotals');
  const problems = [
    ...balanceProblems(await query('mismatchedAccounts'), await query('overdrawnAccounts'), totals),
    ...paymentProblems(await query('settledPayments')),
    ...providerShareProblems(await query('providerShares')),
    ...(await query('endedWithHolds')).map(
      (row) => `request ${String(row.request_id)} ended with a hold still open`,
    ),
    ...(await query('endedGrantsWithMoney')).map(
      (row) => `coupon ${String(row.id)} ended with money still available`,
    ),
    ...programProblems(await programFigures(), (await query('breakageBalance'))[0]),
    ...storageChargeProblems(await query('storageCharges')),
    ...leaseProblems(await query('leaseCharges'), await query('leaseRecords')),
  ];
  const [counted] = await query('counts');
  return {
    ok: problems.length === 0,
    // Stores list rows in different orders; the report reads the same from either.
    problems: problems.sort(),
    accounts: Number(integerValue(counted?.accounts)),
    transactions: Number(integerValue(counted?.transactions)),
  };
}
