/**
 * The SQLite ledger's reads that once read far more than they answer, on a large ledger: a
 * transaction's payers by key and a tenant's newest entries, each through the lean journal's
 * views (every read derives every record's rows) against the read of the records through their
 * indexes (db/payer-queries.ts, db/entry-queries.ts); and a page of a program's statement for one
 * month of twelve, through the usage records' time index (migration 0016) against the whole
 * table it read before (the index dropped for that half). All measured in the same run on the
 * same file. The requests belong to one tenant, the worst case for the entries read (every
 * record is the tenant's); a small tenant beside it shows the usual case. Prints a table;
 * asserts nothing.
 *
 *   npm run bench:ledger:reads [-- --requests 200000 --reads 20]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sqliteTenantEntriesQuery } from '../../src/db/entry-queries.ts';
import {
  sqliteTransactionPayersQuery,
  transactionPayersQuery,
} from '../../src/db/payer-queries.ts';
import { sqliteProgramStatementQuery } from '../../src/db/program-statement-query.ts';
import { migrateSqlite, openSqlite } from '../../src/runtime/node/sqlite/sqlite-database.ts';
import { createSqliteLedger } from '../../src/runtime/node/sqlite/sqlite-ledger.ts';
import { entriesThroughViewsQuery } from './journal-view-reads.ts';
import { benchReservation, fundBenchTenant, pair } from './ledger-workload.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '200000' },
    reads: { type: 'string', default: '20' },
  },
});
const requestCount = Number(values.requests);
const readCount = Number(values.reads);
const concurrency = 64;

const directory = mkdtempSync(join(tmpdir(), 'tokenbank-ledger-reads-bench-'));
const opened = openSqlite(join(directory, 'ledger.db'));
migrateSqlite(opened);
opened.connection.exec(`
  INSERT INTO tenants (id, name, home_region, allowed_regions, allow_max_tokens_clamp, created_at_ms)
    VALUES ('ten_bench', 'bench', NULL, NULL, 0, 0), ('ten_small', 'small', NULL, NULL, 0, 0);
  INSERT INTO providers (id, name, payout_bps, token_hash, created_at_ms)
    VALUES ('prv_bench', 'bench', 8000, 'hash', 0);`);
const ledger = createSqliteLedger(opened.connection);
await fundBenchTenant(ledger);
process.stderr.write(`writing ${requestCount} requests ... `);
/** The requests are spread evenly over twelve months, paid in part by the `bench` program. */
const monthMs = 30 * 86_400_000;
const requestAtMs = (request: number) => 1 + Math.floor((request * 12 * monthMs) / requestCount);
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < requestCount) {
      next += 1;
      await pair(ledger, `req_${next}`, requestAtMs(next));
    }
  }),
);
process.stderr.write('done\n');

/** A small tenant beside the big one: a top-up and ten requests, each reserved and released. */
const smallRequestCount = 10;
await ledger.topUp({
  tenantId: 'ten_small',
  amountMicro: 1_000_000_000n,
  reference: 'small',
  atMs: 0,
});
for (let request = 0; request < smallRequestCount; request += 1) {
  const requestId = `req_small_${request}`;
  await ledger.reserve(benchReservation(requestId, 'ten_small'));
  await ledger.release({ requestId, outcome: 'upstream_error', servedBy: undefined, atMs: 2 });
}

type Parameters = Record<string, string | number>;

/** Median ms of `readCount` reads, each with its parameters, checking each answer's row count. */
function medianReadMs(sql: string, parametersOf: (read: number) => Parameters, rows: number) {
  const statement = opened.connection.prepare(sql).safeIntegers(true);
  const timesMs: number[] = [];
  for (let read = 0; read < readCount; read += 1) {
    const parameters = parametersOf(read);
    const startedAt = process.hrtime.bigint();
    if (statement.all(parameters).length !== rows) {
      throw new Error(`${JSON.stringify(parameters)}: expected ${rows} rows`);
    }
    timesMs.push(Number(process.hrtime.bigint() - startedAt) / 1e6);
  }
  return [...timesMs].sort((left, right) => left - right)[Math.floor(readCount / 2)] ?? 0;
}

/** Settle and reserve keys spread across the ledger. */
const payersKey = (read: number): Parameters => {
  const requestNumber = 1 + Math.floor((read * requestCount) / readCount);
  return { key: `${read % 2 === 0 ? 'settle' : 'reserve'}:req_${requestNumber}` };
};
const entriesPage: Parameters = { tenantId: 'ten_bench', limit: 100 };
const smallEntriesPage: Parameters = { tenantId: 'ten_small', limit: 100 };
/** The small tenant's entries: its top-up, and each request's hold and the hold's release. */
const smallEntryCount = 1 + 2 * smallRequestCount;
/** A page of the program's statement for the sixth month, as the operator's first read of it. */
const statementPage: Parameters = {
  program: 'bench',
  fromMs: 5 * monthMs,
  toMs: 6 * monthMs,
  tenantId: 'ten_bench',
  afterMs: -1,
  afterId: '',
  afterCouponId: '',
  limit: 100,
};
const statementQuery = sqliteProgramStatementQuery.replace(/@(\w+)/g, ':$1');
const statementThroughIndexMs = medianReadMs(statementQuery, () => statementPage, 100);
opened.connection.exec('DROP INDEX usage_records_time');
const statementThroughTableMs = medianReadMs(statementQuery, () => statementPage, 100);
const reads = [
  {
    name: "a program's statement page (a month of twelve)",
    beforeMs: statementThroughTableMs,
    nowMs: statementThroughIndexMs,
  },
  {
    name: "a transaction's payers by key",
    beforeMs: medianReadMs(transactionPayersQuery, payersKey, 1),
    nowMs: medianReadMs(sqliteTransactionPayersQuery, payersKey, 1),
  },
  {
    name: "the tenant's newest 100 entries",
    beforeMs: medianReadMs(entriesThroughViewsQuery, () => entriesPage, 100),
    nowMs: medianReadMs(sqliteTenantEntriesQuery(false), () => entriesPage, 100),
  },
  {
    name: "a small tenant's entries beside the big one",
    beforeMs: medianReadMs(entriesThroughViewsQuery, () => smallEntriesPage, smallEntryCount),
    nowMs: medianReadMs(sqliteTenantEntriesQuery(false), () => smallEntriesPage, smallEntryCount),
  },
];
opened.close();
rmSync(directory, { recursive: true, force: true });
console.log(
  `\nSQLite ledger: reads at ${requestCount.toLocaleString('en')} requests (median of ${readCount} reads)\n`,
);
console.log(
  '| read | before (views; the whole table), ms | now (the indexes), ms | times faster |',
);
console.log('|---|---:|---:|---:|');
for (const read of reads) {
  console.log(
    `| ${read.name} | ${read.beforeMs.toFixed(3)} | ${read.nowMs.toFixed(3)} | ${Math.round(read.beforeMs / read.nowMs).toLocaleString('en')} |`,
  );
}
