/**
 * The ledger check (DESIGN.md §4 invariants), as every store runs it: each balance recomputed
 * from the transfers, no guarded account overdrawn, global debits equal to credits, every
 * settled request paid exactly its cost, no provider paid a share of money never collected, no
 * hold left on a request that ended, and no ended grant with money still available. The queries
 * live in db/ (ledger-check-queries.ts); this module turns their rows into problems.
 */
import { shareOf } from './cost.ts';
import type { LedgerCheck } from './ledger.ts';
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
  | 'counts'
  | 'storageCharges';

/** Runs one read-only query of the check in the store's snapshot. */
export type CheckQuery = (name: LedgerCheckQueryName) => Promise<Record<string, unknown>[]>;

/** Money and counts come back as bigint (SQLite), text (PostgreSQL's int8) or small numbers. */
function integerValue(value: unknown): bigint {
  return typeof value === 'bigint' ? value : BigInt(String(value ?? 0));
}

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

export async function checkLedger(query: CheckQuery): Promise<LedgerCheck> {
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
    ...storageChargeProblems(await query('storageCharges')),
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
