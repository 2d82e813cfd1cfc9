/**
 * Opens the shared PostgreSQL store (node-postgres pool, every limit explicit) and applies
 * drizzle's migrations from drizzle-postgres/. Several replicas may start at once: migrating is
 * serialised by a session advisory lock, and drizzle's journal makes a second run a no-op.
 */
import { fileURLToPath } from 'node:url';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import type { Limits } from '../../../config.ts';
import * as schema from '../../../db/postgres-schema.ts';

export const postgresMigrationsFolder = fileURLToPath(
  new URL('../../../../drizzle-postgres', import.meta.url),
);

/**
 * Advisory lock keys of tokenbank: (namespace, key) pairs of pg_advisory_lock(int4, int4). The
 * namespace keeps them apart from any other program's locks on the same server.
 */
export const advisoryLockNamespace = 0x746b6e62;
export const advisoryLockKeys = { migrations: 1, backgroundJobs: 2 } as const;

/**
 * Per-tenant transaction locks of the file quota: (this namespace, hashtext(tenant id)), taken
 * while a tenant's files are counted and one more is stored. Two tenants whose ids hash alike
 * only wait for each other.
 */
export const fileQuotaLockNamespace = 0x746b6e66;

export type PostgresLimits = Pick<
  Limits,
  | 'postgresConnectionsMax'
  | 'postgresConnectTimeoutMs'
  | 'postgresStatementTimeoutMs'
  | 'postgresIdleInTransactionTimeoutMs'
  | 'postgresIdleConnectionTimeoutMs'
>;

export type OpenedPostgres = {
  pool: pg.Pool;
  database: NodePgDatabase<typeof schema>;
  close(): Promise<void>;
};

/** What every connection of tokenbank is opened with, pooled or not. */
export function postgresClientConfig(url: string, limits: PostgresLimits): pg.ClientConfig {
  return {
    connectionString: url,
    application_name: 'tokenbank',
    connectionTimeoutMillis: limits.postgresConnectTimeoutMs,
    statement_timeout: limits.postgresStatementTimeoutMs,
    idle_in_transaction_session_timeout: limits.postgresIdleInTransactionTimeoutMs,
    keepAlive: true,
  };
}

/**
 * A pool of at most `postgresConnectionsMax` connections. A pooled connection that breaks while
 * idle (the server restarted) is reported to `onIdleError` and replaced on the next use, rather
 * than crashing the process as an unhandled 'error' event would. Its connections pipeline
 * (postgres-pipeline.ts): the ledger sends a transaction's statements in batches, one round trip
 * each; code that awaits each query before the next (drizzle, single statements) runs as before.
 */
export function openPostgres(
  url: string,
  limits: PostgresLimits,
  onIdleError: (error: Error) => void = () => undefined,
): OpenedPostgres {
  const pool = new pg.Pool({
    ...postgresClientConfig(url, limits),
    max: limits.postgresConnectionsMax,
    idleTimeoutMillis: limits.postgresIdleConnectionTimeoutMs,
    pipeline: true,
  });
  pool.on('error', onIdleError);
  return {
    pool,
    database: drizzle(pool, { schema }),
    close: () => pool.end(),
  };
}

/** Applies the migrations not applied yet, one replica at a time. */
export async function migratePostgres(url: string, limits: PostgresLimits): Promise<void> {
  const client = new pg.Client(postgresClientConfig(url, limits));
  await client.connect();
  try {
    // A session lock, not a transaction one: drizzle's migrator runs its own transaction.
    await client.query('SELECT pg_advisory_lock($1, $2)', [
      advisoryLockNamespace,
      advisoryLockKeys.migrations,
    ]);
    await migrate(drizzle(client, { schema }), { migrationsFolder: postgresMigrationsFolder });
  } finally {
    // Closing the session releases its lock even when the migration failed.
    await client.end();
  }
}
