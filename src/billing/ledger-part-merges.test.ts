import { describe, expect, it } from 'vitest';
import { createSeededRandom } from '../platform/random.ts';
import type { ProgramStatementRow } from './ledger.ts';
import {
  compareText,
  mergeLeaseEarnings,
  mergeStatementRows,
  sumProviderBalances,
} from './ledger-part-merges.ts';

describe('mergeLeaseEarnings', () => {
  it('adds up a lease closed once, in (closed at, lease) order', () => {
    expect(
      mergeLeaseEarnings([
        [{ leaseId: 'lse_b', closedAtMs: 5, earnedMicro: 2n }],
        [
          { leaseId: 'lse_b', closedAtMs: 5, earnedMicro: 3n },
          { leaseId: 'lse_c', closedAtMs: 4, earnedMicro: 1n },
        ],
      ]),
    ).toEqual([
      { leaseId: 'lse_c', closedAtMs: 4, earnedMicro: 1n },
      { leaseId: 'lse_b', closedAtMs: 5, earnedMicro: 5n },
    ]);
  });
});

describe('mergeStatementRows', () => {
  const line = (createdAtMs: number, requestId: string, couponId: string): ProgramStatementRow => ({
    requestId,
    createdAtMs,
    tenantId: `ten_${requestId}`,
    couponId,
    model: 'chat',
    providerId: null,
    inputTokens: 1,
    outputTokens: null,
    amountMicro: 7n,
  });

  it('pages exactly like one store when each part answers its own first `limit` lines', () => {
    const random = createSeededRandom(42);
    const all = Array.from({ length: 60 }, (_, index) =>
      line(Math.floor(random() * 8), `r${Math.floor(random() * 1000)}x${index}`, `c${index % 3}`),
    );
    const ordered = [...all].sort(
      (left, right) =>
        left.createdAtMs - right.createdAtMs ||
        compareText(left.requestId, right.requestId) ||
        compareText(left.couponId, right.couponId),
    );
    const parts = [0, 1, 2, 3].map((part) => all.filter((_, index) => index % 4 === part));
    const limit = 7;
    const pages: ProgramStatementRow[] = [];
    let after: ProgramStatementRow | undefined;
    for (;;) {
      const afterCursor = (row: ProgramStatementRow) =>
        after === undefined ||
        row.createdAtMs > after.createdAtMs ||
        (row.createdAtMs === after.createdAtMs &&
          (compareText(row.requestId, after.requestId) > 0 ||
            (row.requestId === after.requestId && compareText(row.couponId, after.couponId) > 0)));
      const answers = parts.map((rows) =>
        mergeStatementRows([rows.filter(afterCursor)], undefined).slice(0, limit),
      );
      const page = mergeStatementRows(answers, limit);
      pages.push(...page);
      after = page.at(-1);
      if (page.length < limit) {
        break;
      }
    }
    expect(pages).toEqual(ordered);
    expect(mergeStatementRows(parts, undefined)).toEqual(ordered);
  });
});

describe('compareText', () => {
  it('orders text by code point, as SQLite orders its UTF-8 bytes', () => {
    expect(compareText('a', 'b')).toBeLessThan(0);
    expect(compareText('ab', 'a')).toBeGreaterThan(0);
    expect(compareText('same', 'same')).toBe(0);
    // U+FF5E sorts before U+1F600, though its UTF-16 unit is above the surrogate's.
    expect(compareText('\uff5e', '\u{1f600}')).toBeLessThan(0);
    expect('\uff5e' < '\u{1f600}').toBe(false);
  });
});

describe('sumProviderBalances', () => {
  it('adds up earned and paid, and owes the difference', () => {
    expect(
      sumProviderBalances([
        { earnedMicro: 10n, paidMicro: 4n, unpaidMicro: 6n },
        { earnedMicro: 5n, paidMicro: 0n, unpaidMicro: 5n },
      ]),
    ).toEqual({ earnedMicro: 15n, paidMicro: 4n, unpaidMicro: 11n });
    expect(sumProviderBalances([])).toEqual({ earnedMicro: 0n, paidMicro: 0n, unpaidMicro: 0n });
  });
});
