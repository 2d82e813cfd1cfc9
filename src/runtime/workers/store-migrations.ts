/**
 * The SQLite schema of the project's drizzle/ folder, bundled into the Worker: D1 gets it from
 * `wrangler d1 migrations apply` (wrangler.toml points at drizzle/), and each tenant's Durable
 * Object applies it to its own storage when it starts, through drizzle's Durable Object migrator,
 * so the object's ledger tables are the very tables the SQLite store has. Each migration file is
 * imported as text (the `Text` rule of wrangler.toml). The journal is imported too, and drizzle's
 * migrator refuses a journal entry without its file ("Missing migration"), so a migration added to
 * drizzle/ but not here stops every object from opening (and every test/workers-* suite) at once.
 */
import { migrate } from 'drizzle-orm/durable-sqlite/migrator';
import foundation from '../../../drizzle/0000_foundation.sql';
import ledger from '../../../drizzle/0001_ledger.sql';
import auditLog from '../../../drizzle/0002_audit_log.sql';
import transfersIndex from '../../../drizzle/0003_transfers_partial_resolution_index.sql';
import usageClaims from '../../../drizzle/0004_usage_claims.sql';
import usageDaily from '../../../drizzle/0005_usage_daily.sql';
import files from '../../../drizzle/0006_files.sql';
import batches from '../../../drizzle/0007_batches.sql';
import meters from '../../../drizzle/0008_meters.sql';
import payouts from '../../../drizzle/0009_payouts.sql';
import leases from '../../../drizzle/0010_leases.sql';
import tenantKeyManagement from '../../../drizzle/0011_tenant_key_management.sql';
import leanJournal from '../../../drizzle/0012_lean_journal.sql';
import payoutPlans from '../../../drizzle/0013_payout_plans.sql';
import objectStoreFiles from '../../../drizzle/0014_object_store_files_and_job_leases.sql';
import openReservationsIndex from '../../../drizzle/0015_open_reservations_index.sql';
import usageRecordsTimeIndex from '../../../drizzle/0016_usage_records_time_index.sql';
import journal from '../../../drizzle/meta/_journal.json';
import type { DurableStoreDatabase } from './durable-store-database.ts';

/** The migration files in journal order, by the key drizzle's migrator looks them up with. */
export const bundledMigrations: Readonly<Record<string, string>> = {
  m0000: foundation,
  m0001: ledger,
  m0002: auditLog,
  m0003: transfersIndex,
  m0004: usageClaims,
  m0005: usageDaily,
  m0006: files,
  m0007: batches,
  m0008: meters,
  m0009: payouts,
  m0010: leases,
  m0011: tenantKeyManagement,
  m0012: leanJournal,
  m0013: payoutPlans,
  m0014: objectStoreFiles,
  m0015: openReservationsIndex,
  m0016: usageRecordsTimeIndex,
};

export const bundledJournal = journal;

/** Brings an object's storage up to the newest schema; a no-op once it is there. */
export async function migrateDurableStore(database: DurableStoreDatabase): Promise<void> {
  await migrate(database, { journal: bundledJournal, migrations: bundledMigrations });
}
