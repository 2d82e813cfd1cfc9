/**
 * The bounds of one page of a tenant's usage records, for every store's query alike. A page
 * resumes after its cursor: from the cursor's time on, so the (tenant, time) index bounds the scan,
 * skipping the records at that very time up to and including the cursor's request id (and, in a
 * statement, coupon id). Without a cursor, -1 and '' skip nothing.
 */
import type { StatementPage, TimeRange, UsagePage } from './ledger.ts';

export type UsagePageBounds = { fromMs: number; toMs: number; afterMs: number; afterId: string };

export type StatementPageBounds = UsagePageBounds & { afterCouponId: string; limit: number };

export function pageBounds(range: TimeRange, page: UsagePage): UsagePageBounds {
  const afterMs = page.after?.createdAtMs ?? -1;
  return {
    fromMs: Math.max(range.fromMs, afterMs),
    toMs: range.toMs,
    afterMs,
    afterId: page.after?.requestId ?? '',
  };
}

/** A statement without a page reads every row: its limit is then the store's "no limit" (-1). */
export function statementPageBounds(
  range: TimeRange,
  page: StatementPage | undefined,
): StatementPageBounds {
  return {
    ...pageBounds(range, { limit: 0, after: page?.after }),
    afterCouponId: page?.after?.couponId ?? '',
    limit: page?.limit ?? -1,
  };
}
