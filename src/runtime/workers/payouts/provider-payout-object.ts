/**
 * The Durable Object of one provider (`idFromName(providerId)`) on Cloudflare Workers: it runs
 * and records the provider's payouts (provider-payouts.ts), whose money lies in the tenants'
 * objects, in its own SQLite storage with the schema of drizzle/ (the payout_plans tables).
 * Workers reach it over RPC with `ledger`, for the Ledger's payout, payouts and paidOut. Its
 * alarm completes a payout some part of which did not move (an object unreachable, this one
 * evicted mid-way), and tries again `payoutRetryIntervalMs` later while any is left.
 */
import { DurableObject } from 'cloudflare:workers';
import { createSqliteCatalog } from '../../../db/sqlite-catalog.ts';
import { createJsonLogger, type Logger } from '../../../platform/logger.ts';
import { d1StoreDatabase } from '../d1-store-database.ts';
import { durableSql } from '../durable-sql.ts';
import { durableStoreDatabase } from '../durable-store-database.ts';
import { answerLedgerCall, type LedgerAnswer, type LedgerMethod } from '../ledger/ledger-rpc.ts';
import { tenantFanOut } from '../ledger/tenant-fan-out.ts';
import { type TenantLedgerStub, tenantObjectLedger } from '../ledger/tenant-ledgers.ts';
import { objectConfig } from '../object-config.ts';
import { migrateDurableStore } from '../store-migrations.ts';
import type { D1Database, DurableObjectNamespace, DurableObjectState } from '../workers-types.ts';
import { payoutPlans } from './payout-plans.ts';
import { createProviderPayouts, type ProviderPayouts } from './provider-payouts.ts';

/** The bindings this object uses (wrangler.toml): the tenants' objects and the catalog in D1. */
type ProviderObjectBindings = {
  TENANT_LEDGERS: DurableObjectNamespace<TenantLedgerStub>;
  DB: D1Database;
};

const providerMethods = ['payout', 'payouts', 'paidOut'] as const;
type ProviderMethod = (typeof providerMethods)[number];

const isProviderMethod = (method: string): method is ProviderMethod =>
  (providerMethods as readonly string[]).includes(method);

export class ProviderPayoutObject extends DurableObject {
  private payouts: ProviderPayouts | undefined;
  private readonly retryIntervalMs: number;
  private readonly logger: Logger;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    const { limits, logLevel } = objectConfig(env);
    this.retryIntervalMs = limits.payoutRetryIntervalMs;
    this.logger = createJsonLogger(logLevel, (line) => console.log(line));
    const bindings = env as ProviderObjectBindings;
    const catalog = createSqliteCatalog(d1StoreDatabase(bindings.DB));
    // No call is delivered before the schema is current.
    void ctx.blockConcurrencyWhile(async () => {
      await migrateDurableStore(durableStoreDatabase(ctx.storage));
      this.payouts = createProviderPayouts({
        plans: payoutPlans(durableSql(ctx.storage.sql)),
        atomic: (body) => ctx.storage.transactionSync(body),
        ledgerOf: (tenantId) => tenantObjectLedger(bindings.TENANT_LEDGERS, tenantId),
        everyTenant: tenantFanOut(catalog, limits.tenantFanOutMax),
        concurrency: limits.tenantFanOutMax,
        completeLater: () => this.completeLater(),
        nowMs: () => Date.now(),
      });
    });
  }

  private get opened(): ProviderPayouts {
    if (!this.payouts) {
      throw new Error('the provider payout object is used before it opened');
    }
    return this.payouts;
  }

  async ledger(method: LedgerMethod, parameters: readonly unknown[]): Promise<LedgerAnswer> {
    if (!isProviderMethod(method)) {
      throw new TypeError(`a provider object answers no ledger method ${String(method)}`);
    }
    return answerLedgerCall(this.opened, method, parameters);
  }

  /** Completes the payouts left unfinished; while one fails, the alarm rings again later. */
  async alarm(): Promise<void> {
    try {
      await this.opened.completeUnfinished();
    } catch (error) {
      await this.completeLater();
      this.logger.log('warn', 'payout_completion_failed', {
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private async completeLater(): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now() + this.retryIntervalMs);
  }
}
