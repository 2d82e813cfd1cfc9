/**
 * The Ledger a Worker uses: every call goes to the Durable Object of the tenant it concerns
 * (`idFromName(tenantId)`), so reserve and settle of one tenant are serialized by its object and
 * tenants never wait on each other. Calls that name a request (checkpoint, settle, release) go to
 * the object this isolate reserved it on: a request is admitted and ended within one invocation.
 * Calls that name a coupon look for it among the tenants, as does the usage of a request another
 * isolate admitted (a batch line an ended Cron Trigger invocation left running). Before an
 * operation the object is sent the catalog rows it will read (catalog-mirror.ts), and before a
 * lease is charged or ended, the lease as the coordinator object holds it (lease-mirror.ts); a lease
 * charge's payers are asked of its lease's tenant. What spans tenants (a provider's earnings and
 * balance, the programs' lists and statements) asks every tenant's object for its part,
 * `tenantFanOutMax` at once, and merges the parts into what one store answers
 * (billing/ledger-part-merges.ts); the check runs on each object and reports them all. Payouts
 * run in the provider's own object (provider-payouts.ts), which also lists them. The sweep and
 * coupon expiry run in each object's alarm, not here.
 */
import { leaseChargeKey } from '../../../billing/lease-operation.ts';
import type {
  CheckpointInput,
  Ledger,
  LedgerCheck,
  ReserveInput,
} from '../../../billing/ledger.ts';
import {
  mergeLeaseEarnings,
  mergeStatementRows,
  sumProviderBalances,
} from '../../../billing/ledger-part-merges.ts';
import { mergeProgramListings, mergeProgramSummaries } from '../../../billing/program-statement.ts';
import type { Catalog } from '../../../db/catalog.ts';
import type { LeaseStore } from '../../../db/lease-store.ts';
import { GatewayError } from '../../../errors.ts';
import { BoundedMap } from '../../../platform/bounded-map.ts';
import type { Clock } from '../../../platform/clock.ts';
import type { DurableObjectNamespace } from '../workers-types.ts';
import type { CatalogMirror } from './catalog-mirror.ts';
import type { CopiedUsageReads } from './d1-usage-reads.ts';
import {
  isWatchedMethod,
  type LedgerAnswer,
  type LedgerMethod,
  ledgerOverRpc,
  type WatchedMethod,
} from './ledger-rpc.ts';
import { tenantFanOut, tenantPages } from './tenant-fan-out.ts';

export type TenantLedgerStub = {
  ledger(method: LedgerMethod, parameters: readonly unknown[]): Promise<LedgerAnswer>;
  watched(method: WatchedMethod, parameters: readonly unknown[]): Promise<LedgerAnswer>;
  mirror(rows: CatalogMirror): Promise<void>;
};

/** The provider's object (provider-payout-object.ts): payout, payouts and paidOut. */
export type ProviderPayoutStub = {
  ledger(method: LedgerMethod, parameters: readonly unknown[]): Promise<LedgerAnswer>;
};

type TenantLedgerOptions = {
  objects: DurableObjectNamespace<TenantLedgerStub>;
  providerObjects: DurableObjectNamespace<ProviderPayoutStub>;
  /** Tenant objects a read that spans tenants asks at once. */
  fanOutMax: number;
  catalog: Catalog;
  /** The deployment's leases (the coordinator object's), mirrored before one is charged or ended. */
  leases: Pick<LeaseStore, 'get'>;
  clock: Clock;
  /** How long a mirrored provider's payout rates are trusted before they are sent again. */
  catalogRefreshMs: number;
  /** Requests of this isolate remembered until they end. */
  requestsMax: number;
  /** The usage records' copy in D1, for the reads over every tenant's usage. */
  copiedUsage: CopiedUsageReads;
};

/** The Ledger of one tenant's object, every call a plain `ledger` call (nothing watched). */
export function tenantObjectLedger(
  objects: DurableObjectNamespace<TenantLedgerStub>,
  tenantId: string,
): Ledger {
  return ledgerOverRpc((method, parameters) =>
    objects.get(objects.idFromName(tenantId)).ledger(method, parameters),
  );
}

export function createTenantLedgers(options: TenantLedgerOptions): Ledger {
  const { objects, catalog, leases, clock } = options;
  const stubOf = (tenantId: string) => objects.get(objects.idFromName(tenantId));
  const ledgerOf = (tenantId: string) =>
    ledgerOverRpc((method, parameters) => {
      const stub = stubOf(tenantId);
      // What a write leaves is watched by the object (tenant-ledger-object.ts).
      return isWatchedMethod(method)
        ? stub.watched(method, parameters)
        : stub.ledger(method, parameters);
    });
  const providerLedgerOf = (providerId: string) =>
    ledgerOverRpc((method, parameters) =>
      options.providerObjects
        .get(options.providerObjects.idFromName(providerId))
        .ledger(method, parameters),
    );
  const everyTenant = tenantFanOut(catalog, options.fanOutMax);
  const tenantOfRequest = new BoundedMap<string>(options.requestsMax);
  /** What this isolate already sent each object, and when (payout rates change). */
  const mirrored = new BoundedMap<number>(options.requestsMax);

  async function mirrorOnce(tenantId: string, key: string, rows: () => Promise<CatalogMirror>) {
    const sentAtMs = mirrored.get(`${tenantId}|${key}`);
    if (sentAtMs !== undefined && clock.nowMs() - sentAtMs < options.catalogRefreshMs) {
      return;
    }
    await stubOf(tenantId).mirror(await rows());
    mirrored.remember(`${tenantId}|${key}`, clock.nowMs());
  }

  async function mirrorForReserve(input: ReserveInput) {
    await mirrorTenant(input.tenantId);
    await mirrorOnce(input.tenantId, `price:${input.price.priceId}`, async () => {
      const price = (await catalog.listPrices()).find((row) => row.id === input.price.priceId);
      return price ? { prices: [price] } : {};
    });
  }

  /** The provider's payout rates, which a settlement or a lease's end reads. */
  async function mirrorPayoutRates(tenantId: string, providerId: string) {
    await mirrorOnce(tenantId, `provider:${providerId}`, async () => {
      const provider = await catalog.getProvider(providerId);
      if (!provider) {
        return {};
      }
      const { id, payoutBps, createdAtMs } = provider;
      return {
        providers: [{ id, payoutBps, createdAtMs }],
        payoutRates: await catalog.listPayoutRates(providerId),
      };
    });
  }

  async function mirrorProvider(tenantId: string, providerId: string, backendId: string) {
    await mirrorPayoutRates(tenantId, providerId);
    const backend = await catalog.getBackend(backendId);
    if (backend) {
      const { id, region } = backend;
      await mirrorOnce(tenantId, `backend:${backendId}`, async () => ({
        backends: [{ id, providerId: backend.providerId, region }],
      }));
    }
  }

  const mirrorTenant = (tenantId: string) =>
    mirrorOnce(tenantId, 'tenant', async () => {
      const tenant = await catalog.getTenant(tenantId);
      return tenant ? { tenants: [tenant] } : {};
    });

  /** The lease as the coordinator object holds it now, for the object's check (lease-mirror.ts). */
  async function mirrorLease(tenantId: string, leaseId: string) {
    const lease = (await leases.get(leaseId)) ?? null;
    await stubOf(tenantId).mirror({ leases: [{ id: leaseId, lease }] });
  }

  function requestTenant(requestId: string): string {
    const tenantId = tenantOfRequest.get(requestId);
    if (tenantId === undefined) {
      throw new Error(`request ${requestId} was not reserved by this Worker isolate`);
    }
    return tenantId;
  }

  /** Visits the tenants one at a time until `visit` answers false. */
  async function eachTenant(visit: (tenantId: string) => Promise<boolean>): Promise<void> {
    for await (const page of tenantPages(catalog)) {
      for (const tenant of page) {
        if (!(await visit(tenant.id))) {
          return;
        }
      }
    }
  }

  /** What `find` answers for the first tenant it answers anything for. */
  async function firstAmongTenants<Value>(
    find: (tenantId: string) => Promise<Value | undefined>,
  ): Promise<Value | undefined> {
    let found: Value | undefined;
    await eachTenant(async (tenantId) => {
      found = await find(tenantId);
      return found === undefined;
    });
    return found;
  }

  const refused = (what: string) => async (): Promise<never> => {
    throw new GatewayError(
      'not_supported_by_runtime',
      `${what} needs the ledger of every tenant at once, which Cloudflare Workers keeps in one Durable Object per tenant; read it from the objects' usage instead.`,
    );
  };
  const inAlarm = (what: string) => async (): Promise<never> => {
    throw new Error(`${what} runs in each tenant object's alarm on Workers`);
  };

  return {
    // Only the lease job reads a transaction's payers: a lease charge's, in its lease's tenant.
    async transactionPayers(idempotencyKey) {
      const prefix = leaseChargeKey('');
      if (!idempotencyKey.startsWith(prefix)) {
        return refused(`The payers of '${idempotencyKey}'`)();
      }
      const lease = await leases.get(idempotencyKey.slice(prefix.length));
      return lease && ledgerOf(lease.tenantId).transactionPayers(idempotencyKey);
    },
    async reserve(input) {
      await mirrorForReserve(input);
      const result = await ledgerOf(input.tenantId).reserve(input);
      if (result.ok) {
        tenantOfRequest.remember(input.requestId, input.tenantId);
      }
      return result;
    },
    checkpoint: (input: CheckpointInput) =>
      ledgerOf(requestTenant(input.requestId)).checkpoint(input),
    async settle(input) {
      const tenantId = requestTenant(input.requestId);
      const { providerId, backendId } = input.servedBy;
      await mirrorProvider(tenantId, providerId, backendId);
      const result = await ledgerOf(tenantId).settle(input);
      tenantOfRequest.forget(input.requestId);
      return result;
    },
    async release(input) {
      const tenantId = requestTenant(input.requestId);
      await ledgerOf(tenantId).release(input);
      tenantOfRequest.forget(input.requestId);
    },
    async recordRejected(input) {
      await mirrorForReserve(input);
      await ledgerOf(input.tenantId).recordRejected(input);
    },
    recordVerification: (requestId, recounted) =>
      ledgerOf(requestTenant(requestId)).recordVerification(requestId, recounted),
    topUp: (input) => ledgerOf(input.tenantId).topUp(input),
    async grantCoupon(input) {
      await mirrorTenant(input.tenantId);
      return ledgerOf(input.tenantId).grantCoupon(input);
    },
    voidCoupon: (couponId, atMs) =>
      firstAmongTenants((tenantId) => ledgerOf(tenantId).voidCoupon(couponId, atMs)),
    coupon: (couponId) => firstAmongTenants((tenantId) => ledgerOf(tenantId).coupon(couponId)),
    adjust: (input) => ledgerOf(input.tenantId).adjust(input),
    adjustments: (tenantId, limit) => ledgerOf(tenantId).adjustments(tenantId, limit),
    chargeStorage: (input) => ledgerOf(input.tenantId).chargeStorage(input),
    tenantMoney: (tenantId, atMs) => ledgerOf(tenantId).tenantMoney(tenantId, atMs),
    usage: (tenantId, range, page) => ledgerOf(tenantId).usage(tenantId, range, page),
    entries: (tenantId, limit) => ledgerOf(tenantId).entries(tenantId, limit),
    async usageOfRequest(requestId) {
      const tenantId = tenantOfRequest.get(requestId);
      if (tenantId !== undefined) {
        return ledgerOf(tenantId).usageOfRequest(requestId);
      }
      // A request of another isolate (a batch line an ended Cron Trigger invocation left
      // running): in the copy, or, settled too recently to be copied, among the tenants.
      return (
        (await options.copiedUsage.usageOfRequest(requestId)) ??
        firstAmongTenants((tenant) => ledgerOf(tenant).usageOfRequest(requestId))
      );
    },
    async check(): Promise<LedgerCheck> {
      const checks = await everyTenant(async (tenantId) => ({
        tenantId,
        checked: await ledgerOf(tenantId).check(),
      }));
      const total: LedgerCheck = { ok: true, problems: [], accounts: 0, transactions: 0 };
      for (const { tenantId, checked } of checks) {
        total.ok &&= checked.ok;
        total.problems.push(...checked.problems.map((problem) => `${tenantId}: ${problem}`));
        total.accounts += checked.accounts;
        total.transactions += checked.transactions;
      }
      return total;
    },
    async chargeLease(input) {
      await mirrorTenant(input.tenantId);
      await mirrorLease(input.tenantId, input.leaseId);
      return ledgerOf(input.tenantId).chargeLease(input);
    },
    async endLease(input) {
      await mirrorLease(input.tenantId, input.leaseId);
      for (const { providerId } of input.delivered) {
        await mirrorPayoutRates(input.tenantId, providerId);
      }
      return ledgerOf(input.tenantId).endLease(input);
    },
    // One query of the copy in D1, which holds every tenant's usage records.
    earnings: (providerId, range) => options.copiedUsage.earnings(providerId, range),
    leaseEarnings: async (providerId, range) =>
      mergeLeaseEarnings(
        await everyTenant((tenantId) => ledgerOf(tenantId).leaseEarnings(providerId, range)),
      ),
    async programStatement(program, range, tenantId, page) {
      // One tenant's lines are all in its object; a tenant the catalog does not know has none.
      if (tenantId !== undefined) {
        const known = await catalog.getTenant(tenantId);
        return known ? ledgerOf(tenantId).programStatement(program, range, tenantId, page) : [];
      }
      // Each object answers its own first page after the cursor: the page is among them.
      const parts = await everyTenant((each) =>
        ledgerOf(each).programStatement(program, range, undefined, page),
      );
      return mergeStatementRows(parts, page?.limit);
    },
    // The reconciliation covers the whole program, even for one tenant: every object is asked.
    programSummary: async (program, range, tenantId) =>
      mergeProgramSummaries(
        program,
        range,
        await everyTenant((each) => ledgerOf(each).programSummary(program, range, tenantId)),
      ),
    programs: async () =>
      mergeProgramListings(await everyTenant((tenantId) => ledgerOf(tenantId).programs())),
    payout: (input) => providerLedgerOf(input.providerId).payout(input),
    payouts: (providerId, limit) => providerLedgerOf(providerId).payouts(providerId, limit),
    providerBalance: async (providerId) =>
      sumProviderBalances(
        await everyTenant((tenantId) => ledgerOf(tenantId).providerBalance(providerId)),
      ),
    paidOut: (providerId, range) => providerLedgerOf(providerId).paidOut(providerId, range),
    sweep: inAlarm('The sweep'),
    // An isolate is heard from by each object it reserves in (`watched`), not by a job.
    heartbeat: async () => undefined,
    expireCoupons: inAlarm('Coupon expiry'),
  };
}
