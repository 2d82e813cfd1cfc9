/**
 * The Durable Object that decides, for the whole deployment, what must be decided in one place:
 * card-hour leases (a backend is reserved for one lease at a time whichever tenant or isolate
 * asks), the Files API's file rows and each tenant's storage quota (their bytes are in R2:
 * r2-file-store.ts), the batches and their lines, the job lease of the Cron Trigger, and the log
 * of catalog changes that isolates poll to drop what a change made wrong
 * (polled-catalog-changes.ts). One object (`idFromName('coordinator')`) whose SQLite storage has
 * the schema of drizzle/, served by the very drizzle stores the Node gateway uses on SQLite
 * (db/sqlite-lease-store.ts, db/sqlite-file-records.ts, db/sqlite-batch-store.ts). Their lease
 * reservations, quota checks and claims of batch lines read several rows and write several in
 * one synchronous transaction (transactionSync), which D1, where the catalog and the audit log
 * live (d1-store-database.ts), cannot run: it has batches, not interactive transactions.
 */
import { DurableObject } from 'cloudflare:workers';
import type { BatchStore } from '../../../db/batch-store.ts';
import type { LeaseStore } from '../../../db/lease-store.ts';
import { createSqliteBatchStore } from '../../../db/sqlite-batch-store.ts';
import {
  createSqliteFileRecords,
  type FileRecords,
  type FileRow,
} from '../../../db/sqlite-file-records.ts';
import { createSqliteLeaseStore } from '../../../db/sqlite-lease-store.ts';
import { type DurableSql, durableSql } from '../durable-sql.ts';
import { durableStoreDatabase } from '../durable-store-database.ts';
import { writeCatalogMirror } from '../ledger/catalog-mirror.ts';
import { migrateDurableStore } from '../store-migrations.ts';
import type { DurableObjectState } from '../workers-types.ts';
import { type AnnouncedChange, CatalogChangeLog, type ChangeCursor } from './catalog-change-log.ts';
import { createJobLeaseRows, type JobLeaseRows } from './job-lease-rows.ts';

export type CoordinatorPorts = {
  files: FileRecords;
  batches: BatchStore;
  jobLeases: JobLeaseRows;
  leases: LeaseStore;
};
export type CoordinatorPortName = keyof CoordinatorPorts;

/** The name of the one coordinator object of a deployment. */
export const coordinatorObjectName = 'coordinator';

/** Changes kept for isolates to read; one that falls further behind resynchronises. */
const changeLogEntriesMax = 1_024;

/**
 * The file rows name their tenant by foreign key, and the tenant is in D1: a row of the tenant's
 * id is kept here (as a tenant's object keeps one: catalog-mirror.ts) before its first file.
 */
function filesNamingTheirTenant(records: FileRecords, sql: DurableSql): FileRecords {
  const keepTenant = (row: FileRow) =>
    writeCatalogMirror(sql, {
      tenants: [{ id: row.tenantId, allowMaxTokensClamp: false, createdAtMs: row.createdAtMs }],
    });
  return {
    ...records,
    insert: async (row) => {
      keepTenant(row);
      await records.insert(row);
    },
    insertWithinQuota: async (row, quota) => {
      keepTenant(row);
      return records.insertWithinQuota(row, quota);
    },
  };
}

export class CoordinatorObject extends DurableObject {
  private ports: CoordinatorPorts | undefined;
  /** A new epoch each time the object starts: its readers resynchronise. */
  private readonly changes = new CatalogChangeLog(crypto.randomUUID(), changeLogEntriesMax);

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      const database = durableStoreDatabase(ctx.storage);
      await migrateDurableStore(database);
      this.ports = {
        files: filesNamingTheirTenant(
          createSqliteFileRecords(database),
          durableSql(ctx.storage.sql),
        ),
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
  async call(port: CoordinatorPortName, method: string, parameters: readonly unknown[]) {
    if (!this.ports) {
      throw new Error('the coordinator object is used before it opened');
    }
    const target = this.ports[port] as Record<string, unknown>;
    const run = target[method];
    if (!Object.hasOwn(target, method) || typeof run !== 'function') {
      throw new TypeError(`no ${port} method ${method}`);
    }
    return (await run(...parameters)) as unknown;
  }
}
