/**
 * The shared store of several replicas: one PostgreSQL database for the catalog, the ledger, the
 * audit log and the Files API's files, migrated on open (one replica at a time), a pool of `postgresConnectionsMax`
 * connections, and one more session per replica for the job lease.
 */
import { type Config, storeLabelOf } from '../../../config.ts';
import { createPostgresAuditLog } from '../../../db/postgres-audit-log.ts';
import { createPostgresBatchStore } from '../../../db/postgres-batch-store.ts';
import { createPostgresCatalog } from '../../../db/postgres-catalog.ts';
import { createPostgresLeaseStore } from '../../../db/postgres-lease-store.ts';
import type { Logger } from '../../../platform/logger.ts';
import type { GatewayStore } from '../gateway-store.ts';
import { migratePostgres, openPostgres } from './postgres-database.ts';
import { createPostgresFileStore } from './postgres-file-store.ts';
import { createPostgresHoldsReader } from './postgres-holds-reader.ts';
import { createPostgresJobLease } from './postgres-job-lease.ts';
import { openPostgresLedger } from './postgres-ledger.ts';

export async function openPostgresGatewayStore(
  config: Config,
  logger: Logger,
): Promise<GatewayStore> {
  const { limits } = config;
  await migratePostgres(config.database, limits);
  const opened = openPostgres(config.database, limits, (error) =>
    logger.log('warn', 'postgres_connection_failed', { message: error.message }),
  );
  try {
    const ledger = await openPostgresLedger(opened.pool, {
      retryCountMax: limits.ledgerConflictRetryCountMax,
    });
    const jobLease = createPostgresJobLease(config.database, limits, logger);
    return {
      kind: 'postgres',
      label: storeLabelOf(config.database),
      opened,
      catalog: createPostgresCatalog(opened.database),
      ledger,
      audit: createPostgresAuditLog(opened.database),
      batches: createPostgresBatchStore(opened.database),
      files: createPostgresFileStore(opened),
      leases: createPostgresLeaseStore(opened.database),
      holdsPending: createPostgresHoldsReader(opened.pool),
      jobLease,
      async close() {
        await jobLease.release();
        await opened.close();
      },
    };
  } catch (error) {
    await opened.close();
    throw error;
  }
}
