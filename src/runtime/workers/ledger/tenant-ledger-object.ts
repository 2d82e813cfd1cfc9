/**
 * The Durable Object that holds one tenant's money (`idFromName(tenantId)`): its wallet, coupons,
 * holds, reservations, usage and lease records, in the object's own SQLite storage with the
 * schema of drizzle/ (store-migrations.ts). Workers reach it over RPC: `ledger` runs one call of
 * the Ledger port (durable-ledger.ts), `watched` a write of the gateway whose result the object
 * watches (a hold or grant for its alarm to end, usage records to copy), `leases` one call of
 * the LeaseStore (the conformance suites' view of it: the gateway's leases
 * live in the coordinator object), `mirror` stores the catalog rows the ledger reads
 * (catalog-mirror.ts) and the records of the leases it charges and ends (lease-mirror.ts). Its
 * alarm ends what no Worker will: holds whose Worker fell silent (the sweep) and grants that
 * expired; and it copies the usage records written since its last ring to D1 (usage-copy.ts), a
 * short while after the first of them, so several requests' records travel in one batch.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Ledger, ReserveInput } from '../../../billing/ledger.ts';
import type { Config } from '../../../config.ts';
import type { LeaseStore } from '../../../db/lease-store.ts';
import { createSqliteLeaseStore } from '../../../db/sqlite-lease-store.ts';
import { createJsonLogger, type Logger } from '../../../platform/logger.ts';
import { type DurableSql, durableSql } from '../durable-sql.ts';
import { type DurableStoreDatabase, durableStoreDatabase } from '../durable-store-database.ts';
import { objectConfig } from '../object-config.ts';
import { migrateDurableStore } from '../store-migrations.ts';
import type { D1Database, DurableObjectState } from '../workers-types.ts';
import { type CatalogMirror, writeCatalogMirror } from './catalog-mirror.ts';
import { createDurableLedger } from './durable-ledger.ts';
import { writeLeaseMirror } from './lease-mirror.ts';
import {
  answerLedgerCall,
  isLedgerMethod,
  isWatchedMethod,
  type LedgerAnswer,
  type LedgerMethod,
  type WatchedMethod,
} from './ledger-rpc.ts';
import {
  type AlarmSettings,
  earliest,
  nextRingMs,
  ringTenantAlarm,
  watchIsDue,
} from './tenant-object-alarm.ts';
import { copyForOneRing, createUsageCopy, type UsageCopy } from './usage-copy.ts';

export type LeaseMethod = keyof LeaseStore;

/** The alarm's timings, from the same TOKENBANK_* variables the Worker reads. */
function alarmSettingsOf(config: Config): AlarmSettings {
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

/**
 * The writes that end a request (or record one refused): they add no hold and no grant, only a
 * usage record to copy, so the hot path's settlement skips the reads that time the sweep.
 */
const endsARequest: ReadonlySet<WatchedMethod> = new Set(['settle', 'release', 'recordRejected']);

/** Where the object notes how far its usage records were copied to D1. */
const usageCopiedKey = 'usage_copied_rowid';

export class TenantLedgerObject extends DurableObject {
  private ledgerPort: Ledger | undefined;
  private leaseStore: LeaseStore | undefined;
  private readonly sql: DurableSql;
  private readonly database: DurableStoreDatabase;
  private readonly alarmSettings: AlarmSettings;
  private readonly limits: Config['limits'];
  private readonly usageCopy: UsageCopy;
  private readonly logger: Logger;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    const config = objectConfig(env);
    this.sql = durableSql(ctx.storage.sql);
    this.database = durableStoreDatabase(ctx.storage);
    this.alarmSettings = alarmSettingsOf(config);
    this.limits = config.limits;
    this.logger = createJsonLogger(config.logLevel, (line) => console.log(line));
    this.usageCopy = createUsageCopy(this.sql, (env as { DB: D1Database }).DB, {
      read: async () => (await ctx.storage.get<number>(usageCopiedKey)) ?? 0,
      write: (rowid) => ctx.storage.put(usageCopiedKey, rowid),
    });
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
   * A write as the gateway Worker makes it: the call of `ledger`, then the object's own watch
   * over what it left. A reservation hears from its isolate (a heartbeat); the alarm is set to
   * sweep a hold, expire a grant or copy usage records if nothing else ends them first. (The
   * conformance suites call `ledger` itself, on the times of their model.)
   */
  async watched(method: WatchedMethod, parameters: readonly unknown[]): Promise<LedgerAnswer> {
    if (!isWatchedMethod(method)) {
      throw new TypeError(`no watched ledger method ${String(method)}`);
    }
    const { ledger } = this.opened;
    const answer = await answerLedgerCall(ledger, method, parameters);
    if (answer.ok && method === 'reserve') {
      const input = parameters[0] as ReserveInput;
      await ledger.heartbeat(input.instanceId, input.atMs);
    }
    if (answer.ok) {
      await this.scheduleAlarm(Date.now(), !endsARequest.has(method));
    }
    return answer;
  }

  /**
   * Sweeps the holds no Worker will end and expires grants (tenant-object-alarm.ts), then copies
   * the new usage records to D1, those of the holds it just swept included.
   */
  async alarm(): Promise<void> {
    const nowMs = Date.now();
    const watchAtMs = watchIsDue(this.sql, nowMs, this.alarmSettings)
      ? await ringTenantAlarm(this.opened.ledger, this.sql, nowMs, this.alarmSettings)
      : nextRingMs(this.sql, nowMs, this.alarmSettings);
    const copyAgainAtMs = await copyForOneRing(this.usageCopy, this.limits, nowMs, this.logger);
    const next = earliest(copyAgainAtMs, watchAtMs);
    if (next !== undefined) {
      await this.ctx.storage.setAlarm(next);
    }
  }

  /**
   * Sets the alarm when something is to be watched and no earlier alarm is set: usage records to
   * copy, and (`holdsOrGrants`) a hold to sweep or a grant to expire.
   */
  private async scheduleAlarm(nowMs: number, holdsOrGrants: boolean): Promise<void> {
    const copyAtMs = (await this.usageCopy.pending())
      ? nowMs + this.limits.usageCopyDelayMs
      : undefined;
    const watchAtMs = holdsOrGrants ? nextRingMs(this.sql, nowMs, this.alarmSettings) : undefined;
    const next = earliest(copyAtMs, watchAtMs);
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
