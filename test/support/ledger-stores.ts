/**
 * The two stores a Ledger runs on, behind one face for the conformance suites
 * (ledger-properties, ledger-concurrency): each suite is written once and runs on every store
 * with `describe.each(ledgerStores)`.
 * - SQLite: a fresh file (or `:memory:`) per world, migrated.
 * - PostgreSQL: one database per suite on the test server (postgres-service.ts), migrated once;
 *   each world empties it first (TRUNCATE), so a thousand sequences need not make a thousand
 *   databases.
 * A world is seeded with plain rows (tenants, providers, backends, prices) the way the catalog
 * would hold them, and can list its accounts' stored totals for the suites to compare.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import type { PinnedPrice } from '../../src/billing/cost.ts';
import type { Ledger } from '../../src/billing/ledger.ts';
import { parseConfig } from '../../src/config.ts';
import type { LeaseStore } from '../../src/db/lease-store.ts';
import { createPostgresLeaseStore } from '../../src/db/postgres-lease-store.ts';
import * as postgresSchema from '../../src/db/postgres-schema.ts';
import { createSqliteLeaseStore } from '../../src/db/sqlite-lease-store.ts';
import { migratePostgres } from '../../src/runtime/node/postgres/postgres-database.ts';
import { openPostgresLedger } from '../../src/runtime/node/postgres/postgres-ledger.ts';
import { migrateSqlite, openSqlite } from '../../src/runtime/node/sqlite/sqlite-database.ts';
import { createSqliteLedger } from '../../src/runtime/node/sqlite/sqlite-ledger.ts';
import { createTestDatabase, quietPool, type TestDatabase } from './postgres-service.ts';

export type AccountRow = {
  id: string;
  balance: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
};

export type WorldSeed = {
  tenants: readonly { id: string; clampAllowed: boolean }[];
  providers: readonly { id: string; payoutBps: number }[];
  backends: readonly {
    id: string;
    providerId: string;
    region: string;
    models: readonly string[];
  }[];
  prices: readonly { price: PinnedPrice; model: string; version: number }[];
};

export type PayoutRateRow = {
  providerId: string;
  version: number;
  payoutBps: number;
  effectiveAtMs: number;
};

/** One store, seeded, with as many ledgers on it as the suite asked for (each its own link). */
export type LedgerWorld = {
  ledgers: Ledger[];
  /** The store's lease records, which the ledger check reads beside the lease transactions. */
  leases: LeaseStore;
  /** Where another process opens the same store: a file path or a postgres:// URL. */
  location: string;
  insertPrice(price: PinnedPrice, model: string, version: number): Promise<void>;
  /** A provider's payout rate version, as the catalog publishes it. */
  insertPayoutRate(rate: PayoutRateRow): Promise<void>;
  accountRows(): Promise<AccountRow[]>;
  close(): Promise<void>;
};

export type LedgerStore = {
  name: 'SQLite' | 'PostgreSQL' | 'Durable Object';
  /** Before the suite: PostgreSQL makes and migrates its database here. */
  setUp(adminUrl: string): Promise<void>;
  /** A fresh, empty, seeded world; `onFile` asks SQLite for a file rather than memory. */
  openWorld(
    seed: WorldSeed,
    options: { ledgerCount: number; onFile: boolean },
  ): Promise<LedgerWorld>;
  tearDown(): Promise<void>;
};

const limits = (() => {
  const parsed = parseConfig({});
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  return parsed.config.limits;
})();

/** A ledger opened by another process on a store the suite made: see ledger-concurrency. */
export async function openLedgerAt(
  location: string,
): Promise<{ ledger: Ledger; close(): Promise<void> }> {
  if (location.startsWith('postgres')) {
    const pool = quietPool(location, 4);
    const ledger = await openPostgresLedger(pool, {
      retryCountMax: limits.ledgerConflictRetryCountMax,
    });
    return { ledger, close: () => pool.end() };
  }
  const opened = openSqlite(location);
  return { ledger: createSqliteLedger(opened.connection), close: async () => opened.close() };
}

function seedSqlite(connection: Database.Database, seed: WorldSeed): void {
  for (const tenant of seed.tenants) {
    connection
      .prepare(
        `INSERT INTO tenants (id, name, home_region, allowed_regions, allow_max_tokens_clamp, created_at_ms)
         VALUES (?, ?, NULL, NULL, ?, 0)`,
      )
      .run(tenant.id, tenant.id, tenant.clampAllowed ? 1 : 0);
  }
  for (const provider of seed.providers) {
    connection
      .prepare(
        'INSERT INTO providers (id, name, payout_bps, token_hash, created_at_ms) VALUES (?, ?, ?, ?, 0)',
      )
      .run(provider.id, provider.id, provider.payoutBps, `hash-${provider.id}`);
  }
  for (const backend of seed.backends) {
    connection
      .prepare(
        `INSERT INTO backends (id, provider_id, url, region, models, slots, api_key, metrics_url, state,
           created_at_ms, updated_at_ms)
         VALUES (?, ?, ?, ?, ?, 4, NULL, NULL, 'active', 0, 0)`,
      )
      .run(
        backend.id,
        backend.providerId,
        `http://${backend.id}`,
        backend.region,
        JSON.stringify(backend.models),
      );
  }
  for (const { price, model, version } of seed.prices) {
    insertSqlitePrice(connection, price, model, version);
  }
}

function insertSqlitePrice(
  connection: Database.Database,
  price: PinnedPrice,
  model: string,
  version: number,
): void {
  connection
    .prepare(
      `INSERT INTO prices (id, model, region, version, input_per_million, cached_input_per_million,
         output_per_million, currency, effective_at_ms, created_at_ms)
       VALUES (?, ?, '', ?, ?, ?, ?, 'CNY', 0, 0)`,
    )
    .run(
      price.priceId,
      model,
      version,
      price.inputPerMillion,
      price.cachedInputPerMillion,
      price.outputPerMillion,
    );
}

export const sqliteStore: LedgerStore = {
  name: 'SQLite',
  setUp: async () => undefined,
  async openWorld(seed, { ledgerCount, onFile }) {
    const directory = onFile ? mkdtempSync(join(tmpdir(), 'tokenbank-ledger-')) : undefined;
    const location = directory === undefined ? ':memory:' : join(directory, 'ledger.db');
    const first = openSqlite(location);
    migrateSqlite(first);
    seedSqlite(first.connection, seed);
    // Connections beyond the first share the file, as processes would; memory cannot be shared.
    const others = Array.from({ length: ledgerCount - 1 }, () => openSqlite(location));
    const connections = [first, ...others];
    return {
      ledgers: connections.map((opened) => createSqliteLedger(opened.connection)),
      leases: createSqliteLeaseStore(first.database),
      location,
      insertPrice: async (price, model, version) =>
        insertSqlitePrice(first.connection, price, model, version),
      insertPayoutRate: async (rate) => {
        first.connection
          .prepare(
            `INSERT INTO provider_payout_rates (provider_id, version, payout_bps, effective_at_ms,
               created_at_ms) VALUES (?, ?, ?, ?, 0)`,
          )
          .run(rate.providerId, rate.version, rate.payoutBps, rate.effectiveAtMs);
      },
      accountRows: async () =>
        first.connection
          .prepare(
            `SELECT id, credits_posted - debits_posted AS balance, debits_pending AS debitsPending,
               credits_pending AS creditsPending FROM accounts`,
          )
          .safeIntegers(true)
          .all() as AccountRow[],
      close: async () => {
        for (const opened of connections) {
          opened.close();
        }
        if (directory !== undefined) {
          rmSync(directory, { recursive: true, force: true });
        }
      },
    };
  },
  tearDown: async () => undefined,
};

const ledgerTables = [
  'lease_backends',
  'leases',
  'provider_payout_rates',
  'accounts',
  'coupons',
  'ledger_transactions',
  'transfers',
  'reservations',
  'usage_records',
  'gateway_instances',
  'prices',
  'backends',
  'providers',
  'api_keys',
  'tenants',
];

async function seedPostgres(pool: pg.Pool, seed: WorldSeed): Promise<void> {
  for (const tenant of seed.tenants) {
    await pool.query(
      `INSERT INTO tenants (id, name, home_region, allowed_regions, allow_max_tokens_clamp, created_at_ms)
       VALUES ($1, $1, NULL, NULL, $2, 0)`,
      [tenant.id, tenant.clampAllowed],
    );
  }
  for (const provider of seed.providers) {
    await pool.query(
      'INSERT INTO providers (id, name, payout_bps, token_hash, created_at_ms) VALUES ($1, $1, $2, $3, 0)',
      [provider.id, provider.payoutBps, `hash-${provider.id}`],
    );
  }
  for (const backend of seed.backends) {
    await pool.query(
      `INSERT INTO backends (id, provider_id, url, region, models, slots, api_key, metrics_url, state,
         created_at_ms, updated_at_ms)
       VALUES ($1, $2, $3, $4, $5::jsonb, 4, NULL, NULL, 'active', 0, 0)`,
      [
        backend.id,
        backend.providerId,
        `http://${backend.id}`,
        backend.region,
        JSON.stringify(backend.models),
      ],
    );
  }
  for (const { price, model, version } of seed.prices) {
    await insertPostgresPrice(pool, price, model, version);
  }
}

async function insertPostgresPrice(
  pool: pg.Pool,
  price: PinnedPrice,
  model: string,
  version: number,
): Promise<void> {
  await pool.query(
    `INSERT INTO prices (id, model, region, version, input_per_million, cached_input_per_million,
       output_per_million, currency, effective_at_ms, created_at_ms)
     VALUES ($1, $2, '', $3, $4, $5, $6, 'CNY', 0, 0)`,
    [
      price.priceId,
      model,
      version,
      price.inputPerMillion,
      price.cachedInputPerMillion,
      price.outputPerMillion,
    ],
  );
}

export function createPostgresStore(): LedgerStore {
  let database: TestDatabase | undefined;
  const databaseUrl = () => {
    if (!database) {
      throw new Error('the PostgreSQL store is used before its setUp');
    }
    return database.url;
  };
  return {
    name: 'PostgreSQL',
    async setUp(adminUrl) {
      database = await createTestDatabase(adminUrl);
      await migratePostgres(database.url, limits);
    },
    async openWorld(seed, { ledgerCount }) {
      const pools = Array.from({ length: ledgerCount }, () => quietPool(databaseUrl(), 8));
      const [first] = pools;
      if (!first) {
        throw new Error('a world has at least one ledger');
      }
      await first.query(`TRUNCATE ${ledgerTables.join(', ')} RESTART IDENTITY CASCADE`);
      await seedPostgres(first, seed);
      const ledgers: Ledger[] = [];
      for (const pool of pools) {
        ledgers.push(
          await openPostgresLedger(pool, { retryCountMax: limits.ledgerConflictRetryCountMax }),
        );
      }
      return {
        ledgers,
        leases: createPostgresLeaseStore(drizzle(first, { schema: postgresSchema })),
        location: databaseUrl(),
        insertPrice: (price, model, version) => insertPostgresPrice(first, price, model, version),
        insertPayoutRate: async (rate) => {
          await first.query(
            `INSERT INTO provider_payout_rates (provider_id, version, payout_bps, effective_at_ms,
               created_at_ms) VALUES ($1, $2, $3, $4, 0)`,
            [rate.providerId, rate.version, rate.payoutBps, rate.effectiveAtMs],
          );
        },
        accountRows: async () =>
          (
            await first.query(
              `SELECT id, credits_posted - debits_posted AS balance, debits_pending,
                 credits_pending FROM accounts`,
            )
          ).rows.map((row: Record<string, unknown>) => ({
            id: String(row.id),
            balance: BigInt(String(row.balance)),
            debitsPending: BigInt(String(row.debits_pending)),
            creditsPending: BigInt(String(row.credits_pending)),
          })),
        close: async () => {
          await Promise.all(pools.map((pool) => pool.end()));
        },
      };
    },
    async tearDown() {
      await database?.drop();
      database = undefined;
    },
  };
}

/** Both stores, for `describe.each`; each suite gets its own PostgreSQL store object. */
export function ledgerStores(): LedgerStore[] {
  return [sqliteStore, createPostgresStore()];
}

/**
 * Runs one statement on a world's store from outside the ledger, as a faulty writer would: the
 * suites corrupt a row this way to see the ledger check report it. SQLite worlds must be on file.
 */
/** The one ledger of a world opened with `ledgerCount: 1`. */
export function soleLedgerOf(world: LedgerWorld): Ledger {
  const [first] = world.ledgers;
  if (!first) {
    throw new Error('a world has one ledger');
  }
  return first;
}

export async function executeOutsideLedger(world: LedgerWorld, sql: string): Promise<void> {
  if (world.location.startsWith('postgres')) {
    const pool = quietPool(world.location, 1);
    try {
      await pool.query(sql);
    } finally {
      await pool.end();
    }
    return;
  }
  const opened = openSqlite(world.location);
  try {
    opened.connection.exec(sql);
  } finally {
    opened.close();
  }
}
