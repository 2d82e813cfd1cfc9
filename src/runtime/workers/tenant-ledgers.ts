/**
 * The Ledger a Worker uses: every call goes to the Durable Object of the tenant it concerns
 * (`idFromName(tenantId)`), so reserve and settle of one tenant are serialized by its object and
 * tenants never wait on each other. Calls that name a request (checkpoint, settle, release) go to
 * the object this isolate reserved it on: a request is admitted and ended within one invocation.
 * Calls that name a coupon look for it among the tenants. Before an operation the object is sent
 * the catalog rows it will read (catalog-mirror.ts), and before a lease is charged or ended, the
 * lease as the catalog object holds it (lease-mirror.ts); a lease charge's payers are asked of
 * its lease's tenant. What would need every tenant's ledger at once (a provider's earnings,
 * payouts and balance, the programs' statements) is refused with `not_supported_by_runtime`; the
 * check runs on each object and reports them all. The sweep and
 * coupon expiry run in each object's alarm, not here.
 */
import { leaseChargeKey } from '../../billing/lease-operation.ts';
import type { CheckpointInput, Ledger, LedgerCheck, ReserveInput } from '../../billing/ledger.ts';
import type { Catalog } from '../../db/catalog.ts';
import type { LeaseStore } from '../../db/lease-store.ts';
import { GatewayError } from '../../errors.ts';
import { BoundedMap } from '../../platform/bounded-map.ts';
import type { Clock } from '../../platform/clock.ts';
import type { CatalogMirror } from './catalog-mirror.ts';
import { type LedgerAnswer, type LedgerMethod, ledgerOverRpc } from './ledger-rpc.ts';
import type { DurableObjectNamespace } from './workers-types.ts';

export type TenantLedgerStub = {
  ledger(method: LedgerMethod, parameters: readonly unknown[]): Promise<LedgerAnswer>;
  watched(method: 'reserve' | 'grantCoupon', parameters: readonly unknown[]): Promise<LedgerAnswer>;
  mirror(rows: CatalogMirror): Promise<void>;
};

type TenantLedgerOptions = {
  objects: DurableObjectNamespace<TenantLedgerStub>;
  catalog: Catalog;
  /** The deployment's leases (the catalog object's), mirrored before one is charged or ended. */
  leases: Pick<LeaseStore, 'get'>;
  clock: Clock;
  /** How long a mirrored provider's payout rates are trusted before they are sent again. */
  catalogRefreshMs: number;
  /** Requests of this isolate remembered until they end. */
  requestsMax: number;
};

/** Tenants read per page when a coupon or the check looks through all of them. */
const tenantPageSize = 100;

export function createTenantLedgers(options: TenantLedgerOptions): Ledger {
  const { objects, catalog, leases, clock } = options;
  const stubOf = (tenantId: string) => objects.get(objects.idFromName(tenantId));
  const ledgerOf = (tenantId: string) =>
    ledgerOverRpc((method, parameters) => {
      const stub = stubOf(tenantId);
      // Reservations and grants are watched by the object's alarm (tenant-object-alarm.ts).
      return method === 'reserve' || method === 'grantCoupon'
        ? stub.watched(method, parameters)
        : stub.ledger(method, parameters);
    });
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

  /** The lease as the catalog object holds it now, for the object's check (lease-mirror.ts). */
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

  async function eachTenant(visit: (tenantId: string) => Promise<boolean>): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await catalog.listTenants({ limit: tenantPageSize, after });
      for (const tenant of page) {
        if (!(await visit(tenant.id))) {
          return;
        }
      }
      const last = page.at(-1);
      if (!last || page.length < tenantPageSize) {
        return;
      }
      after = last.id;
    }
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
    async voidCoupon(couponId, atMs) {
      let found: Awaited<ReturnType<Ledger['voidCoupon']>>;
      await eachTenant(async (tenantId) => {
        found = await ledgerOf(tenantId).voidCoupon(couponId, atMs);
        return found === undefined;
      });
      return found;
    },
    async coupon(couponId) {
      let found: Awaited<ReturnType<Ledger['coupon']>>;
      await eachTenant(async (tenantId) => {
        found = await ledgerOf(tenantId).coupon(couponId);
        return found === undefined;
      });
      return found;
    },
    adjust: (input) => ledgerOf(input.tenantId).adjust(input),
    adjustments: (tenantId, limit) => ledgerOf(tenantId).adjustments(tenantId, limit),
    chargeStorage: (input) => ledgerOf(input.tenantId).chargeStorage(input),
    tenantMoney: (tenantId, atMs) => ledgerOf(tenantId).tenantMoney(tenantId, atMs),
    usage: (tenantId, range, page) => ledgerOf(tenantId).usage(tenantId, range, page),
    entries: (tenantId, limit) => ledgerOf(tenantId).entries(tenantId, limit),
    usageOfRequest: (requestId) => ledgerOf(requestTenant(requestId)).usageOfRequest(requestId),
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
    earnings: refused("A provider's earnings"),
    leaseEarnings: refused("A provider's lease earnings"),
    programStatement: refused("A program's statement"),
    programSummary: refused("A program's summary"),
    programs: refused('The list of programs'),
    payout: refused('A payout'),
    payouts: refused("A provider's payouts"),
    providerBalance: refused("A provider's balance"),
    paidOut: refused("A provider's payouts"),
    sweep: inAlarm('The sweep'),
    // An isolate is heard from by each object it reserves in (`watched`), not by a job.
    heartbeat: async () => undefined,
    expireCoupons: inAlarm('Coupon expiry'),
  };
}
