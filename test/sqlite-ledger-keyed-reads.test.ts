/**
 * The SQLite ledger's reads of one transaction's payers (db/payer-queries.ts) and of a tenant's
 * entries (db/entry-queries.ts): each finds a request's transaction through its records' indexes
 * instead of deriving every record's rows through the lean journal's views, and answers exactly
 * what the views answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entriesThroughViewsQuery } from '../bench/ledger/journal-view-reads.ts';
import { fundBenchTenant, pair, price } from '../bench/ledger/ledger-workload.ts';
import type { Ledger } from '../src/billing/ledger.ts';
import { sqliteTenantEntriesQuery } from '../src/db/entry-queries.ts';
import { sqliteTransactionPayersQuery, transactionPayersQuery } from '../src/db/payer-queries.ts';
import { migrateSqlite, openSqlite } from '../src/runtime/node/sqlite/sqlite-database.ts';
import { createSqliteLedger } from '../src/runtime/node/sqlite/sqlite-ledger.ts';

type Opened = ReturnType<typeof openSqlite>;

/** The keys read: settled, released, still reserved, kept in full, and keys of nothing. */
const keys = [
  'reserve:req_settled',
  'settle:req_settled',
  'release:req_settled',
  'reserve:req_released',
  'release:req_released',
  'reserve:req_open',
  'settle:req_overrun',
  'settle:req_open',
  'topup:ten_bench:bench',
  'settle:req_never',
  'no separator',
  '',
];

async function reserveOpen(
  ledger: Ledger,
  requestId: string,
  estimates = { promptTokensEstimate: 300, outputTokensMax: 256 },
  tenantId = 'ten_bench',
): Promise<void> {
  const reserved = await ledger.reserve({
    requestId,
    tenantId,
    keyId: 'key_bench',
    model: 'bench-model',
    region: 'east',
    price,
    ...estimates,
    clampAllowed: false,
    atMs: 3,
    instanceId: 'gw_bench',
  });
  expect(reserved.ok).toBe(true);
}

describe('transaction payers on SQLite', () => {
  let opened: Opened;
  let ledger: Ledger;

  beforeAll(async () => {
    opened = openSqlite(':memory:');
    migrateSqlite(opened);
    opened.connection.exec(`
      INSERT INTO tenants (id, name, home_region, allowed_regions, allow_max_tokens_clamp, created_at_ms)
        VALUES ('ten_bench', 'bench', NULL, NULL, 0, 0), ('ten_other', 'other', NULL, NULL, 0, 0);
      INSERT INTO providers (id, name, payout_bps, token_hash, created_at_ms)
        VALUES ('prv_bench', 'bench', 8000, 'hash', 0);`);
    ledger = createSqliteLedger(opened.connection);
    await fundBenchTenant(ledger);
    await pair(ledger, 'req_settled');
    await reserveOpen(ledger, 'req_released');
    await ledger.release({
      requestId: 'req_released',
      outcome: 'upstream_error',
      servedBy: undefined,
      atMs: 4,
    });
    await reserveOpen(ledger, 'req_open');
    // Another tenant's requests, which neither tenant's entries may show.
    await ledger.topUp({ tenantId: 'ten_other', amountMicro: 5_000_000n, reference: 'o', atMs: 1 });
    await reserveOpen(ledger, 'req_other_open', undefined, 'ten_other');
    await reserveOpen(ledger, 'req_other_released', undefined, 'ten_other');
    await ledger.release({
      requestId: 'req_other_released',
      outcome: 'upstream_error',
      servedBy: undefined,
      atMs: 4,
    });
    // Used far beyond its holds: the rest is posted straight from the coupon and the wallet.
    await reserveOpen(ledger, 'req_overrun', { promptTokensEstimate: 10, outputTokensMax: 10 });
    await ledger.settle({
      requestId: 'req_overrun',
      usage: {
        inputTokens: 2_000,
        cachedInputTokens: 0,
        outputTokens: 10,
        reasoningTokens: undefined,
        source: 'provider',
      },
      outcome: 'complete',
      servedBy: { backendId: 'bkd_bench', providerId: 'prv_bench', region: 'east' },
      price,
      atMs: 5,
    });
  });
  afterAll(() => opened.close());

  it('answers what the journal views answer, for every kind of key', async () => {
    const throughViews = opened.connection.prepare(transactionPayersQuery).safeIntegers(true);
    const direct = opened.connection.prepare(sqliteTransactionPayersQuery).safeIntegers(true);
    const answers = keys.map((key) => ({ key, rows: direct.all({ key }) }));
    expect(answers).toEqual(keys.map((key) => ({ key, rows: throughViews.all({ key }) })));
    // The overrun's posted transfers out of the coupon and the wallet are its payers; a
    // settlement within its holds, a reservation or a release posts none; no row for no key.
    const rowsOf = (key: string) => answers.find((answer) => answer.key === key)?.rows;
    expect(rowsOf('settle:req_overrun')).toEqual([
      { debit: 'coupon:cpn_bench', amount: 1_990n, coupon_kind: 'compute' },
      { debit: 'wallet:ten_bench', amount: 1_990n, coupon_kind: null },
    ]);
    expect(rowsOf('settle:req_settled')).toEqual([
      { debit: null, amount: null, coupon_kind: null },
    ]);
    expect(rowsOf('reserve:req_open')).toEqual([{ debit: null, amount: null, coupon_kind: null }]);
    expect(rowsOf('settle:req_never')).toEqual([]);
    expect(await ledger.transactionPayers('settle:req_overrun')).toEqual([
      { source: 'coupon', id: 'cpn_bench', kind: 'compute', amountMicro: 1_990n },
      { source: 'wallet', id: null, kind: 'wallet', amountMicro: 1_990n },
    ]);
  });

  it('reaches the records through their primary keys, scanning neither table', () => {
    const plan = (
      opened.connection
        .prepare(`EXPLAIN QUERY PLAN ${sqliteTransactionPayersQuery}`)
        .all({ key: 'settle:req_settled' }) as { detail: string }[]
    ).map((row) => row.detail);
    expect(plan).toContain('SEARCH r USING INDEX sqlite_autoindex_reservations_1 (request_id=?)');
    expect(plan).toContain('SEARCH u USING INDEX sqlite_autoindex_usage_records_1 (request_id=?)');
    expect(
      plan.filter((detail) => /^SCAN (r|u|x|t|reservations|usage_records)\b/.test(detail)),
    ).toEqual([]);
  });

  it.each([
    ['ten_bench', 100],
    ['ten_bench', 3],
    ['ten_other', 100],
    ['ten_none', 100],
  ])("answers %s's newest entries (at most %i) as the views do", (tenantId, limit) => {
    const throughViews = opened.connection.prepare(entriesThroughViewsQuery).safeIntegers(true);
    const direct = opened.connection.prepare(sqliteTenantEntriesQuery(false)).safeIntegers(true);
    const expected = throughViews.all({ tenantId, limit });
    expect(direct.all({ tenantId, limit })).toEqual(expected);
    // Not vacuous: every tenant with requests has entries, up to the limit.
    expect(expected.length > 0).toBe(tenantId !== 'ten_none');
    expect(expected.length).toBeLessThanOrEqual(limit);
  });

  it("reads a tenant's entries through indexes, scanning only the open reservations", () => {
    const plan = (
      opened.connection
        .prepare(`EXPLAIN QUERY PLAN ${sqliteTenantEntriesQuery(false)}`)
        .all({ tenantId: 'ten_bench', limit: 10 }) as { detail: string }[]
    ).map((row) => row.detail);
    expect(plan).toContain('SEARCH u USING INDEX usage_records_tenant_time (tenant_id=?)');
    expect(plan).toContain('SEARCH r USING INDEX sqlite_autoindex_reservations_1 (request_id=?)');
    expect(plan).toContain('SCAN reservations USING INDEX reservations_open');
    expect(
      plan.filter((detail) => /^SCAN (r|u|x|t|reservations|usage_records)$/.test(detail)),
    ).toEqual([]);
  });
});
