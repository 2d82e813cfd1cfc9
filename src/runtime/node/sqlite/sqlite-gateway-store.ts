/**
 * The embedded store: one SQLite file (better-sqlite3, WAL) for the catalog, the ledger, the
 * audit log, batches and the Files API's files. One process normally owns the file, so it always
 * runs the elected jobs.
 */
import type { Config } from '../../../config.ts';
import { synchronousSqlite } from '../../../db/portable-sqlite.ts';
import { createSqliteAuditLog } from '../../../db/sqlite-audit-log.ts';
import { createSqliteBatchStore } from '../../../db/sqlite-batch-store.ts';
import { createSqliteCatalog } from '../../../db/sqlite-catalog.ts';
import { createSqliteLeaseStore } from '../../../db/sqlite-lease-store.ts';
import { soleProcessLease } from '../../../platform/job-lease.ts';
import type { GatewayStore } from '../gateway-store.ts';
import { createHoldsReader } from '../prometheus-metrics.ts';
import { migrateSqlite, type OpenedSqlite, openSqlite } from './sqlite-database.ts';
import { createSqliteFileStore } from './sqlite-file-store.ts';
import { createSqliteLedger } from './sqlite-ledger.ts';

/** The ports over a SQLite store already opened (and migrated) by the caller. */
export function sqliteGatewayStore(opened: OpenedSqlite, config: Config): GatewayStore {
  return {
    kind: 'sqlite',
    label: config.database,
    opened,
    catalog: createSqliteCatalog(synchronousSqlite(opened.database)),
    ledger: createSqliteLedger(opened.connection, {
      openReservationsMax: config.limits.openReservationsMax,
      accountsInMemoryMax: config.limits.ledgerAccountsInMemoryMax,
    }),
    audit: createSqliteAuditLog(opened.database),
    batches: createSqliteBatchStore(opened.database),
    files: createSqliteFileStore(opened),
    leases: createSqliteLeaseStore(opened.database),
    holdsPending: createHoldsReader(opened.connection),
    jobLease: soleProcessLease,
    close: async () => opened.close(),
  };
}

export function openSqliteGatewayStore(config: Config): GatewayStore {
  const opened = openSqlite(config.database);
  migrateSqlite(opened);
  return sqliteGatewayStore(opened, config);
}
