/**
 * The Durable Object that holds the deployment's catalog (tenants, keys, providers, backends,
 * models, prices), its audit log, its card-hour leases, the Files API's file rows (their bytes
 * are in R2: r2-file-store.ts), the batches and their lines, and the job lease of the Cron
 * Trigger: one object (`idFromName('catalog')`) whose SQLite storage has the schema of drizzle/,
 * served by the very drizzle stores the Node gateway uses on SQLite (db/sqlite-catalog.ts,
 * db/sqlite-audit-log.ts, db/sqlite-lease-store.ts, db/sqlite-file-records.ts,
 * db/sqlite-batch-store.ts): one store for the deployment, so a backend is reserved for one lease
 * at a time whichever tenant or isolate asks. Their version allocations, lease reservations,
 * "only if" writes and quota checks are synchronous transactions, which a Durable Object runs
 * (transactionSync) and D1 does not (it has batches, not interactive transactions); see
 * DEPLOY.md "Cloudflare Workers". Workers keep what they read of it in memory (the catalog cache,
 * credential caches and running leases) and read its log of changes to drop what a change made
 * wrong (polled-catalog-changes.ts).
 */
import { DurableObject } from 'cloudflare:workers';
import type { AuditLog } from '../../../db/audit-log.ts';
import type { BatchStore } from '../../../db/batch-store.ts';
import type { Catalog } from '../../../db/catalog.ts';
import type { LeaseStore } from '../../../db/lease-store.ts';
import { createSqliteAuditLog } from '../../../db/sqlite-audit-log.ts';
import { createSqliteBatchStore } from '../../../db/sqlite-batch-store.ts';
import { createSqliteCatalog } from '../../../db/sqlite-catalog.ts';
import { createSqliteFileRecords, type FileRecords } from '../../../db/sqlite-file-records.ts';
import { createSqliteLeaseStore } from '../../../db/sqlite-lease-store.ts';
import { durableStoreDatabase } from '../durable-store-database.ts';
import { migrateDurableStore } from '../store-migrations.ts';
import type { DurableObjectState } from '../workers-types.ts';
import { type AnnouncedChange, CatalogChangeLog, type ChangeCursor } from './catalog-change-log.ts';
import { createJobLeaseRows, type JobLeaseRows } from './job-lease-rows.ts';

export type CatalogPorts = {
  catalog: Catalog;
  audit: AuditLog;
  files: FileRecords;
  batches: BatchStore;
  jobLeases: JobLeaseRows;
  leases: LeaseStore;
};
export type CatalogPortName = keyof CatalogPorts;

/** The name of the one catalog object of a deployment. */
export const catalogObjectName = 'catalog';

/** Changes kept for isolates to read; one that falls further behind resynchronises. */
const changeLogEntriesMax = 1_024;

export class CatalogObject extends DurableObject {
  private ports: CatalogPorts | undefined;
  /** A new epoch each time the object starts: its readers resynchronise. */
  private readonly changes = new CatalogChangeLog(crypto.randomUUID(), changeLogEntriesMax);

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      const database = durableStoreDatabase(ctx.storage);
      await migrateDurableStore(database);
      this.ports = {
        catalog: createSqliteCatalog(database),
        audit: createSqliteAuditLog(database),
        files: createSqliteFileRecords(database),
        batches: createSqliteBatchStore(database),
        jobLeases: createJobLeaseRows(database),
        leases: createSqliteLeaseStore(database),
      };
    });
  }

  /** An isolate announces a change it made (polled-catalog-changes.ts). */
  publishChange(announced: AnnouncedChange): void {
    this.changes.append(announced);
  }

  changesAfter(cursor: ChangeCursor | undefined) {
    return this.changes.readAfter(cursor);
  }

  /** One call of one of its ports. */
  async call(port: CatalogPortName, method: string, parameters: readonly unknown[]) {
    if (!this.ports) {
      throw new Error('the catalog object is used before it opened');
    }
    const target = this.ports[port] as Record<string, unknown>;
    const run = target[method];
    if (!Object.hasOwn(target, method) || typeof run !== 'function') {
      throw new TypeError(`no ${port} method ${method}`);
    }
    return (await run(...parameters)) as unknown;
  }
}
