/**
 * The Durable Object ledger as the conformance suites see a store: each world is a fresh tenant
 * ledger object in workerd (workers-runtime.ts), seeded through its catalog mirror, and its Ledger
 * and LeaseStore are the object's own, called over RPC exactly as the gateway Worker calls them
 * (ledgerOverRpc). The object holds the ledger of every tenant of the world, so the suites' model
 * (two tenants in one ledger) runs unchanged; on Workers each tenant has an object of its own.
 */

import type { PinnedPrice } from '../../src/billing/cost.ts';
import type { LeaseStore } from '../../src/db/lease-store.ts';
import type {
  CatalogMirror,
  MirroredPrice,
} from '../../src/runtime/workers/ledger/catalog-mirror.ts';
import { ledgerOverRpc } from '../../src/runtime/workers/ledger/ledger-rpc.ts';
import type { AccountRow, LedgerStore } from './ledger-stores.ts';
import { startWorkersRuntime, type WorkersRuntime } from './workers-runtime.ts';

function mirroredPrice(price: PinnedPrice, model: string, version: number): MirroredPrice {
  return {
    id: price.priceId,
    model,
    region: '',
    version,
    inputPerMillion: price.inputPerMillion,
    cachedInputPerMillion: price.cachedInputPerMillion,
    outputPerMillion: price.outputPerMillion,
    currency: 'CNY',
    effectiveAtMs: 0,
  };
}

/** Calls on one object's lease store, method by method. */
function leaseStoreOf(runtime: WorkersRuntime, object: string): LeaseStore {
  return new Proxy({} as LeaseStore, {
    get: (_target, method) =>
      method === 'then'
        ? undefined
        : (...parameters: unknown[]) =>
            runtime.call({ object, target: 'leases', parameters: [method, parameters] }),
  });
}

export function createDurableLedgerStore(): LedgerStore {
  let runtime: WorkersRuntime | undefined;
  let worldNumber = 0;
  const started = () => {
    if (!runtime) {
      throw new Error('the Durable Object store is used before its setUp');
    }
    return runtime;
  };
  return {
    name: 'Durable Object',
    async setUp() {
      runtime = await startWorkersRuntime();
    },
    async openWorld(seed, { ledgerCount }) {
      const workers = started();
      worldNumber += 1;
      const object = `world-${worldNumber}`;
      const mirror = (rows: CatalogMirror) =>
        workers.call({ object, target: 'mirror', parameters: [rows] }) as Promise<void>;
      await mirror({
        tenants: seed.tenants.map((tenant) => ({
          id: tenant.id,
          allowMaxTokensClamp: tenant.clampAllowed,
          createdAtMs: 0,
        })),
        providers: seed.providers.map((provider) => ({ ...provider, createdAtMs: 0 })),
        backends: seed.backends,
        prices: seed.prices.map(({ price, model, version }) =>
          mirroredPrice(price, model, version),
        ),
      });
      const ledger = ledgerOverRpc(
        async (method, parameters) =>
          (await workers.call({
            object,
            target: 'ledger',
            parameters: [method, parameters],
          })) as Awaited<ReturnType<Parameters<typeof ledgerOverRpc>[0]>>,
      );
      return {
        // Every ledger of the world is a caller of the same object, as every Worker isolate is.
        ledgers: Array.from({ length: ledgerCount }, () => ledger),
        leases: leaseStoreOf(workers, object),
        location: object,
        insertPrice: (price, model, version) =>
          mirror({ prices: [mirroredPrice(price, model, version)] }),
        insertPayoutRate: (rate) => mirror({ payoutRates: [rate] }),
        accountRows: async () =>
          (await workers.call({ object, target: 'accounts', parameters: [] })) as AccountRow[],
        close: async () => undefined,
      };
    },
    async tearDown() {
      await runtime?.close();
      runtime = undefined;
    },
  };
}
