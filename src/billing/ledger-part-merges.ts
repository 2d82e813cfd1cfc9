/**
 * A provider's ledger reads and a program's statement lines put together from parts that each
 * cover some of the tenants: on Cloudflare Workers every tenant's Durable Object holds its share
 * of each provider's lease earnings and balance, and of each program's charges. Each merge answers what one store
 * holding every part answers: rows of one key added up (money as bigint), in the store's order,
 * and a statement's page cut where the store would cut it.
 */
import type { LeaseEarningsRow, ProgramStatementRow, ProviderBalance } from './ledger.ts';

/**
 * Text in SQLite's order (its UTF-8 bytes, so code points), which is JavaScript's UTF-16 order
 * except past U+FFFF: a surrogate stands for a code point above every other unit's.
 */
export function compareText(left: string, right: string): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index += 1) {
    const leftUnit = left.charCodeAt(index);
    const rightUnit = right.charCodeAt(index);
    if (leftUnit !== rightUnit) {
      return codePointRank(leftUnit) - codePointRank(rightUnit);
    }
  }
  return left.length - right.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) {
    return unit + 0x2000;
  }
  return unit >= 0xe000 ? unit - 0x800 : unit;
}

function compareKeys(left: readonly (string | number)[], right: readonly (string | number)[]) {
  for (let index = 0; index < left.length; index += 1) {
    const leftPart = left[index] ?? '';
    const rightPart = right[index] ?? '';
    const order =
      typeof leftPart === 'number' && typeof rightPart === 'number'
        ? leftPart - rightPart
        : compareText(String(leftPart), String(rightPart));
    if (order !== 0) {
      return order;
    }
  }
  return 0;
}

/** Rows of every part, those of one key added up by `add`, sorted by their key. */
function mergedByKey<Row>(
  parts: readonly (readonly Row[])[],
  keyOf: (row: Row) => readonly (string | number)[],
  add: (total: Row, row: Row) => Row,
): Row[] {
  const merged = new Map<string, { key: readonly (string | number)[]; row: Row }>();
  for (const row of parts.flat()) {
    const key = keyOf(row);
    const text = JSON.stringify(key);
    const earlier = merged.get(text);
    merged.set(text, { key, row: earlier ? add(earlier.row, row) : row });
  }
  return [...merged.values()]
    .sort((left, right) => compareKeys(left.key, right.key))
    .map((entry) => entry.row);
}

/** Lease shares per lease and closing time, in (closed at, lease) order. */
export function mergeLeaseEarnings(
  parts: readonly (readonly LeaseEarningsRow[])[],
): LeaseEarningsRow[] {
  return mergedByKey(
    parts,
    (row) => [row.closedAtMs, row.leaseId],
    (total, row) => ({ ...total, earnedMicro: total.earnedMicro + row.earnedMicro }),
  );
}

/**
 * A program's statement lines in (created at, request, coupon) order, cut at `limit` when a page
 * is asked for. A request's lines are all in one part (the tenant's), so lines are never added
 * up. Exact when each part answered its own first `limit` lines after the page's cursor: the
 * page's lines are the first `limit` of all, so none of them was left in a part.
 */
export function mergeStatementRows(
  parts: readonly (readonly ProgramStatementRow[])[],
  limit: number | undefined,
): ProgramStatementRow[] {
  const keyOf = (row: ProgramStatementRow) => [row.createdAtMs, row.requestId, row.couponId];
  const rows = parts.flat().sort((left, right) => compareKeys(keyOf(left), keyOf(right)));
  return limit === undefined ? rows : rows.slice(0, limit);
}

/** A provider's payable account whose credits and debits are spread over several ledgers. */
export function sumProviderBalances(parts: readonly ProviderBalance[]): ProviderBalance {
  const earnedMicro = parts.reduce((sum, part) => sum + part.earnedMicro, 0n);
  const paidMicro = parts.reduce((sum, part) => sum + part.paidMicro, 0n);
  return { earnedMicro, paidMicro, unpaidMicro: earnedMicro - paidMicro };
}
