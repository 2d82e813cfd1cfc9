/**
 * The SQLite ledger's reads of one transaction by key on a large ledger: a transaction's payers
 * through the lean journal's views (each read derives every record's key and transfers) against
 * the read of the records by primary key (db/payer-queries.ts), measured in the same run on the
 * same file. Prints a table; asserts nothing.
 *
 *   npm run bench:ledger:reads [-- --requests 200000 --reads 20]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  sqliteTransactionPayersQuery,
  transactionPayersQuery,
} from '../../src/db/payer-queries.ts';
import { migrateSqlite, openSqlite } from '../../src/runtime/node/sqlite/sqlite-database.ts';
import { createSqliteLedger } from '../../src/runtime/node/sqlite/sqlite-ledger.ts';
import { fundBenchTenant, pair } from './ledger-workload.ts';

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
    VALUES ('ten_bench', 'bench', NULL, NULL, 0, 0);
  INSERT INTO providers (id, name, payout_bps, token_hash, created_at_ms)
    VALUES ('prv_bench', 'bench', 8000, 'hash', 0);`);
const ledger = createSqliteLedger(opened.connection);
await fundBenchTenant(ledger);
process.stderr.write(`writing ${requestCount} requests ... `);
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < requestCount) {
      next += 1;
      await pair(ledger, `req_${next}`);
    }
  }),
);
process.stderr.write('done\n');

/** Median ms of one read, over keys spread across the ledger (settle and reserve keys). */
function medianReadMs(sql: string): number {
  const statement = opened.connection.prepare(sql).safeIntegers(true);
  const timesMs: number[] = [];
  for (let read = 0; read < readCount; read += 1) {
    const requestNumber = 1 + Math.floor((read * requestCount) / readCount);
    const key = `${read % 2 === 0 ? 'settle' : 'reserve'}:req_${requestNumber}`;
    const startedAt = process.hrtime.bigint();
    if (statement.all({ key }).length !== 1) {
      throw new Error(`${key}: expected one row`);
    }
    timesMs.push(Number(process.hrtime.bigint() - startedAt) / 1e6);
  }
  return [...timesMs].sort((left, right) => left - right)[Math.floor(readCount / 2)] ?? 0;
}

const throughViewsMs = medianReadMs(transactionPayersQuery);
const directMs = medianReadMs(sqliteTransactionPayersQuery);
opened.close();
rmSync(directory, { recursive: true, force: true });
console.log(
  `\nSQLite ledger: a transaction's payers by key (${requestCount.toLocaleString('en')} requests, median of ${readCount} reads)\n`,
);
console.log('| read | ms per read | times faster than the views |');
console.log('|---|---:|---:|');
console.log(`| through the journal's views (before) | ${throughViewsMs.toFixed(3)} | 1 |`);
console.log(
  `| records by primary key (now) | ${directMs.toFixed(3)} | ${Math.round(throughViewsMs / directMs).toLocaleString('en')} |`,
);
