/**
 * The Durable Object that holds one tenant's money (`idFromName(tenantId)`): its wallet, coupons,
 * holds, reservations, usage and lease records, in the object's own SQLite storage with the
 * schema of drizzle/ (store-migrations.ts). Workers reach it over RPC: `ledger` runs one call of
 * the Ledger port (durable-ledger.ts), `leases` one of the LeaseStore, `mirror` stores the catalog
 * rows the ledger reads (catalog-mirror.ts). Its alarm ends what no Worker will: holds whose
 * Worker fell silent (the sweep) and grants that expired.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Ledger } from '../../billing/ledger.ts';
import type { LeaseStore } from '../../db/lease-store.ts';
import { createSqliteLeaseStore } from '../../db/sqlite-lease-store.ts';
import { type CatalogMirror, writeCatalogMirror } from './catalog-mirror.ts';
import { createDurableLedger } from './durable-ledger.ts';
import { durableSql } from './durable-sql.ts';
import { durableStoreDatabase } from './durable-store-database.ts';
import {
  answerLedgerCall,
  isLedgerMethod,
  type LedgerAnswer,
  type LedgerMethod,
} from './ledger-rpc.ts';
import { migrateDurableStore } from './store-migrations.ts';
import type { DurableObjectState } from './workers-types.ts';

export type LeaseMethod = keyof LeaseStore;

/** An account's stored totals, as the operator reconciles them. */
export type AccountTotals = {
  id: string;
  balance: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
};

export class TenantLedgerObject extends DurableObject {
  private ledgerPort: Ledger | undefined;
  private leaseStore: LeaseStore | undefined;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    // No call is delivered before the schema is current.
    void ctx.blockConcurrencyWhile(async () => {
      const database = durableStoreDatabase(ctx.storage);
      await migrateDurableStore(database);
      this.ledgerPort = createDurableLedger(ctx.storage);
      this.leaseStore = createSqliteLeaseStore(database);
    });
  }

  private get opened(): { ledger: Ledger; leases: LeaseStore } {
    if (!this.ledgerPort || !this.leaseStore) {
      throw new Error('the tenant ledger object is used before it opened');
    }
    return { ledger: this.ledgerPort, leases: this.leaseStore };
  }

  async ledger(method: LedgerMethod, parameters: readonly unknown[]): Promise<LedgerAnswer> {
    if (!isLedgerMethod(method)) {
      throw new TypeError(`no ledger method ${String(method)}`);
    }
    return answerLedgerCall(this.opened.ledger, method, parameters);
  }

  async leases(method: LeaseMethod, parameters: readonly unknown[]): Promise<unknown> {
    const store = this.opened.leases;
    if (!Object.hasOwn(store, method)) {
      throw new TypeError(`no lease store method ${String(method)}`);
    }
    const run = store[method] as (...values: readonly unknown[]) => Promise<unknown>;
    return run(...parameters);
  }

  async mirror(rows: CatalogMirror): Promise<void> {
    const sql = durableSql(this.ctx.storage.sql);
    this.ctx.storage.transactionSync(() => writeCatalogMirror(sql, rows));
  }

  /** Every account of this object with its stored totals. */
  async accounts(): Promise<AccountTotals[]> {
    return durableSql(this.ctx.storage.sql)
      .all(
        `SELECT id, CAST(credits_posted - debits_posted AS TEXT) AS balance,
           CAST(debits_pending AS TEXT) AS debitsPending,
           CAST(credits_pending AS TEXT) AS creditsPending FROM accounts`,
      )
      .map((row) => ({
        id: String(row.id),
        balance: BigInt(String(row.balance)),
        debitsPending: BigInt(String(row.debitsPending)),
        creditsPending: BigInt(String(row.creditsPending)),
      }));
  }
}
