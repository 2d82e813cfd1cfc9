/**
 * The Durable Object that holds the deployment's catalog (tenants, keys, providers, backends,
 * models, prices), its audit log and its card-hour leases: one object (`idFromName('catalog')`)
 * whose SQLite storage has the schema of drizzle/, served by the very drizzle stores the Node
 * gateway uses on SQLite (db/sqlite-catalog.ts, db/sqlite-audit-log.ts, db/sqlite-lease-store.ts):
 * one store for the deployment, so a backend is reserved for one lease at a time whichever
 * tenant or isolate asks. Their version allocations, lease reservations and "only if" writes are
 * synchronous transactions, which a Durable Object runs (transactionSync) and D1 does not (it has
 * batches, not interactive transactions); see DEPLOY.md "Cloudflare Workers". Workers keep what
 * they read of it in memory (the catalog cache, credential caches and running leases).
 */
import { DurableObject } from 'cloudflare:workers';
import type { AuditLog } from '../../db/audit-log.ts';
import type { Catalog } from '../../db/catalog.ts';
import type { LeaseStore } from '../../db/lease-store.ts';
import { createSqliteAuditLog } from '../../db/sqlite-audit-log.ts';
import { createSqliteCatalog } from '../../db/sqlite-catalog.ts';
import { createSqliteLeaseStore } from '../../db/sqlite-lease-store.ts';
import { durableStoreDatabase } from './durable-store-database.ts';
import { migrateDurableStore } from './store-migrations.ts';
import type { DurableObjectState } from './workers-types.ts';

export type CatalogPorts = { catalog: Catalog; audit: AuditLog; leases: LeaseStore };
export type CatalogPortName = keyof CatalogPorts;

/** The name of the one catalog object of a deployment. */
export const catalogObjectName = 'catalog';

export class CatalogObject extends DurableObject {
  private ports: CatalogPorts | undefined;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      const database = durableStoreDatabase(ctx.storage);
      await migrateDurableStore(database);
      this.ports = {
        catalog: createSqliteCatalog(database),
        audit: createSqliteAuditLog(database),
        leases: createSqliteLeaseStore(database),
      };
    });
  }

  /** One call of the catalog, the audit log or the lease store. */
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
