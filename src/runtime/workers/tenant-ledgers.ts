/**
 * The Ledger a Worker uses: every call goes to the Durable Object of the tenant it concerns
 * (`idFromName(tenantId)`), so reserve and settle of one tenant are serialized by its object and
 * tenants never wait on each other. Calls that name a request (checkpoint, settle, release) go to
 * the object this isolate reserved it on: a request is admitted and ended within one invocation.
 * Calls that name a coupon look for it among the tenants, as does the usage of a request another
 * isolate admitted (a batch line an ended Cron Trigger invocation left running). Before an
 * operation the object is sent the catalog rows it will read (catalog-mirror.ts). What spans
 * tenants (a provider's earnings and balance, the programs' lists and statements) asks every
 * tenant's object for its part,
 * `tenantFanOutMax` at once, and merges the parts into what one store answers
 * (billing/ledger-part-merges.ts); the check runs on each object and reports them all. Payouts
 * run in the provider's own object (provider-payouts.ts), which also lists them. The sweep and
 * coupon expiry run in each object's alarm, not here.
 */
import type { CheckpointInput, Ledger, LedgerCheck, ReserveInput } from '../../billing/ledger.ts';
import {
  mergeEarnings,
  mergeLeaseEarnings,
  mergeStatementRows,
  sumProviderBalances,
} from '../../billing/ledger-part-merges.ts';
import { mergeProgramListings, mergeProgramSummaries } from '../../billing/program-statement.ts';
import type { Catalog } from '../../db/catalog.ts';
import { GatewayError } from '../../errors.ts';
import { BoundedMap } from '../../platform/bounded-map.ts';
import type { Clock } from '../../platform/clock.ts';
import type { CatalogMirror } from './catalog-mirror.ts';
import { type LedgerAnswer, type LedgerMethod, ledgerOverRpc } from './ledger-rpc.ts';
import { tenantFanOut, tenantPages } from './tenant-fan-out.ts';
import type { DurableObjectNamespace } from './workers-types.ts';

export type TenantLedgerStub = {
  ledger(method: LedgerMethod, parameters: readonly unknown[]): Promise<LedgerAnswer>;
  watched(method: 'reserve' | 'grantCoupon', parameters: readonly unknown[]): Promise<LedgerAnswer>;
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
  clock: Clock;
  /** How long a mirrored provider's payout rates are trusted before they are sent again. */
  catalogRefreshMs: number;
  /** Requests of this isolate remembered until they end. */
  requestsMax: number;
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
  const { objects, catalog, clock } = options;
  const stubOf = (tenantId: string) => objects.get(objects.idFromName(tenantId));
  const ledgerOf = (tenantId: string) =>
    ledgerOverRpc((method, parameters) => {
      const stub = stubOf(tenantId);
      // Reservations and grants are watched by the object's alarm (tenant-object-alarm.ts).
      return method === 'reserve' || method === 'grantCoupon'
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
    await mirrorOnce(input.tenantId, `tenant`, async () => {
      const tenant = await catalog.getTenant(input.tenantId);
      return tenant ? { tenants: [tenant] } : {};
    });
    await mirrorOnce(input.tenantId, `price:${input.price.priceId}`, async () => {
      const price = (await catalog.listPrices()).find((row) => row.id === input.price.priceId);
      return price ? { prices: [price] } : {};
    });
  }

  async function mirrorProvider(tenantId: string, providerId: string, backendId: string) {
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
    const backend = await catalog.getBackend(backendId);
    if (backend) {
      const { id, region } = backend;
      await mirrorOnce(tenantId, `backend:${backendId}`, async () => ({
        backends: [{ id, providerId: backend.providerId, region }],
      }));
    }
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
    // Only leases read a transaction's payers, and Workers refuses leases.
    transactionPayers: refused("A transaction's payers"),
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
      await mirrorOnce(input.tenantId, 'tenant', async () => {
        const tenant = await catalog.getTenant(input.tenantId);
        return tenant ? { tenants: [tenant] } : {};
      });
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
      // A batch line an ended Cron Trigger invocation left running: looked for among the tenants.
      return firstAmongTenants((tenant) => ledgerOf(tenant).usageOfRequest(requestId));
    },
    async check(): Promise<LedgerCheck> {
      const total: LedgerCheck = { ok: true, problems: [], accounts: 0, transactions: 0 };
      await eachTenant(async (tenantId) => {
        const checked = await ledgerOf(tenantId).check();
        total.ok &&= checked.ok;
        total.problems.push(...checked.problems.map((problem) => `${tenantId}: ${problem}`));
        total.accounts += checked.accounts;
        total.transactions += checked.transactions;
        return true;
      });
      return total;
    },
    chargeLease: refused('A lease'),
    endLease: refused('A lease'),
    earnings: async (providerId, range) =>
      mergeEarnings(
        await everyTenant((tenantId) => ledgerOf(tenantId).earnings(providerId, range)),
      ),
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
