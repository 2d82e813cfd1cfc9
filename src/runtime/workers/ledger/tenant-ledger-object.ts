/**
 * The Durable Object that holds one tenant's money (`idFromName(tenantId)`): its wallet, coupons,
 * holds, reservations, usage and lease records, in the object's own SQLite storage with the
 * schema of drizzle/ (store-migrations.ts). Workers reach it over RPC: `ledger` runs one call of
 * the Ledger port (durable-ledger.ts), `watched` a reservation or grant that the alarm must watch,
 * `leases` one call of the LeaseStore (the conformance suites' view of it: the gateway's leases
 * live in the catalog object), `mirror` stores the catalog rows the ledger reads
 * (catalog-mirror.ts) and the records of the leases it charges and ends (lease-mirror.ts). Its
 * alarm ends what no Worker will: holds whose Worker fell silent (the sweep) and grants that
 * expired.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Ledger, ReserveInput } from '../../../billing/ledger.ts';
import type { LeaseStore } from '../../../db/lease-store.ts';
import { createSqliteLeaseStore } from '../../../db/sqlite-lease-store.ts';
import { type DurableSql, durableSql } from '../durable-sql.ts';
import { type DurableStoreDatabase, durableStoreDatabase } from '../durable-store-database.ts';
import { objectConfig } from '../object-config.ts';
import { migrateDurableStore } from '../store-migrations.ts';
import type { DurableObjectState } from '../workers-types.ts';
import { type CatalogMirror, writeCatalogMirror } from './catalog-mirror.ts';
import { createDurableLedger } from './durable-ledger.ts';
import { writeLeaseMirror } from './lease-mirror.ts';
import {
  answerLedgerCall,
  isLedgerMethod,
  type LedgerAnswer,
  type LedgerMethod,
} from './ledger-rpc.ts';
import { type AlarmSettings, nextRingMs, ringTenantAlarm } from './tenant-object-alarm.ts';

export type LeaseMethod = keyof LeaseStore;

/** The alarm's timings, from the same TOKENBANK_* variables the Worker reads. */
function alarmSettingsOf(env: unknown): AlarmSettings {
  const config = objectConfig(env);
  return {
    // Past the timeout, a request's own settlement gets the time a silent owner is given.
    requestLifetimeMs: config.requestTimeoutS * 1000 + config.limits.ownerSilentMs,
    intervalMs: config.limits.sweepIntervalMs,
  };
}

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
  private readonly sql: DurableSql;
  private readonly database: DurableStoreDatabase;
  private readonly alarmSettings: AlarmSettings;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.sql = durableSql(ctx.storage.sql);
    this.database = durableStoreDatabase(ctx.storage);
    this.alarmSettings = alarmSettingsOf(env);
    // No call is delivered before the schema is current.
    void ctx.blockConcurrencyWhile(async () => {
      await migrateDurableStore(this.database);
      this.ledgerPort = createDurableLedger(ctx.storage);
      this.leaseStore = createSqliteLeaseStore(this.database);
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

  /**
   * A reservation or a grant as the gateway Worker makes it: the call of `ledger`, then the
   * object's own watch over it. A reservation hears from its isolate (a heartbeat), and either
   * sets the alarm that will sweep the hold or expire the grant if nothing else ends it. (The
   * conformance suites call `ledger` itself, on the times of their model.)
   */
  async watched(
    method: 'reserve' | 'grantCoupon',
    parameters: readonly unknown[],
  ): Promise<LedgerAnswer> {
    const { ledger } = this.opened;
    const answer = await answerLedgerCall(ledger, method, parameters);
    if (answer.ok && method === 'reserve') {
      const input = parameters[0] as ReserveInput;
      await ledger.heartbeat(input.instanceId, input.atMs);
    }
    if (answer.ok) {
      await this.scheduleAlarm(Date.now());
    }
    return answer;
  }

  /** Sweeps the holds no Worker will end and expires grants (tenant-object-alarm.ts). */
  async alarm(): Promise<void> {
    const nowMs = Date.now();
    const next = await ringTenantAlarm(this.opened.ledger, this.sql, nowMs, this.alarmSettings);
    if (next !== undefined) {
      await this.ctx.storage.setAlarm(next);
    }
  }

  /** Sets the alarm when something is to be watched and no earlier alarm is set. */
  private async scheduleAlarm(nowMs: number): Promise<void> {
    const next = nextRingMs(this.sql, nowMs, this.alarmSettings);
    const current = await this.ctx.storage.getAlarm();
    if (next !== undefined && (current === null || current > next)) {
      await this.ctx.storage.setAlarm(next);
    }
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
    this.ctx.storage.transactionSync(() => {
      writeCatalogMirror(this.sql, rows);
      for (const lease of rows.leases ?? []) {
        writeLeaseMirror(this.database, lease);
      }
    });
  }

  /** Every account of this object with its stored totals. */
  async accounts(): Promise<AccountTotals[]> {
    return this.sql
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
