/**
 * The PostgreSQL store's migrations (drizzle-postgres/): they apply cleanly to an empty database,
 * a second run changes nothing, replicas starting together migrate once between them, and
 * `tokenbank migrate --db postgres://...` does it from the command line without printing the
 * URL's password.
 */
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../src/config.ts';
import { migratePostgres } from '../src/runtime/node/postgres/postgres-database.ts';
import { runCliCommand } from './support/cli-process.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres-service.ts';

const limits = (() => {
  const parsed = parseConfig({});
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  return parsed.config.limits;
})();

const databases: TestDatabase[] = [];

afterEach(async () => {
  for (const database of databases.splice(0)) {
    await database.drop();
  }
});

async function freshDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase(inject('postgresAdminUrl'));
  databases.push(database);
  return database;
}

async function query(url: string, text: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

async function tablesOf(url: string): Promise<string[]> {
  const rows = await query(
    url,
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
  );
  return rows.map((row) => String(row.table_name));
}

async function appliedCount(url: string): Promise<number> {
  const [row] = await query(url, 'SELECT count(*) AS count FROM drizzle.__drizzle_migrations');
  return Number(row?.count);
}

const expectedTables = [
  'accounts',
  'admin_credentials',
  'api_keys',
  'audit_events',
  'backends',
  'batch_lines',
  'batches',
  'coupons',
  'files',
  'gateway_instances',
  'lease_backends',
  'leases',
  'ledger_transactions',
  'meter_prices',
  'models',
  'prices',
  'provider_payout_rates',
  'providers',
  'reservations',
  'tenants',
  'transfers',
  'usage_daily',
  'usage_records',
];

describe('PostgreSQL migrations', () => {
  it('apply cleanly to an empty database, and a second run changes nothing', async () => {
    const { url } = await freshDatabase();
    await migratePostgres(url, limits);
    expect(await tablesOf(url)).toEqual(expectedTables);
    const applied = await appliedCount(url);
    expect(applied).toBeGreaterThanOrEqual(2);

    await migratePostgres(url, limits);
    expect(await appliedCount(url)).toBe(applied);
    expect(await tablesOf(url)).toEqual(expectedTables);
  });

  it('migrate once when three replicas start together', async () => {
    const { url } = await freshDatabase();
    await Promise.all([1, 2, 3].map(() => migratePostgres(url, limits)));
    expect(await tablesOf(url)).toEqual(expectedTables);
    const [journal] = await query(
      url,
      'SELECT count(*) AS count, count(DISTINCT hash) AS hashes FROM drizzle.__drizzle_migrations',
    );
    expect(Number(journal?.count)).toBe(Number(journal?.hashes));
  });

  it('keep the audit log append-only and money columns 64-bit', async () => {
    const { url } = await freshDatabase();
    await migratePostgres(url, limits);
    await query(
      url,
      `INSERT INTO audit_events (at_ms, actor, action, entity_type, request_id)
       VALUES (1, 'admin:test', 'tenant.create', 'tenant', 'req_1')`,
    );
    await expect(query(url, `UPDATE audit_events SET actor = 'someone else'`)).rejects.toThrow(
      /append-only/,
    );
    await expect(query(url, 'DELETE FROM audit_events')).rejects.toThrow(/append-only/);
    const money = await query(
      url,
      `SELECT table_name, column_name, data_type FROM information_schema.columns
       WHERE table_schema = 'public' AND column_name IN ('amount', 'debits_posted', 'cost',
         'reserved_amount', 'input_per_million')`,
    );
    expect(money.length).toBeGreaterThanOrEqual(6);
    expect(new Set(money.map((row) => row.data_type))).toEqual(new Set(['bigint']));
  });

  it('run from `tokenbank migrate --db postgres://...`, twice, naming no password', async () => {
    const { url } = await freshDatabase();
    const withPassword = new URL(url);
    withPassword.password = 'not-needed-by-trust-auth';
    const first = await runCliCommand(['migrate', '--db', withPassword.toString()]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(
      `migrations applied to postgres://${withPassword.host}${withPassword.pathname}\n`,
    );
    expect(first.stdout).not.toContain('not-needed');
    expect(await tablesOf(url)).toEqual(expectedTables);

    const again = await runCliCommand(['migrate'], { TOKENBANK_DB: url });
    expect(again.code).toBe(0);
    expect(await tablesOf(url)).toEqual(expectedTables);
  });
});
