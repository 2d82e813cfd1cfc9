/**
 * The Catalog over a synchronous drizzle SQLite database (better-sqlite3 in the Node runtime).
 * Only drizzle's runtime-neutral query builder is used here; the runtime opens the database.
 */
import { and, asc, count, eq, gt, max, ne, sql } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type { Catalog, PayoutRateRecord, PriceRecord } from './catalog.ts';
import * as schema from './schema.ts';

export type SqliteDatabase = BaseSQLiteDatabase<'sync', unknown, typeof schema>;

export function createSqliteCatalog(database: SqliteDatabase): Catalog {
  const {
    adminCredentials,
    apiKeys,
    backends,
    meterPrices,
    models,
    prices,
    providerPayoutRates,
    providers,
    tenants,
    usageDaily,
  } = schema;
  return {
    insertTenant: async (tenant) => {
      database.insert(tenants).values(tenant).run();
    },
    getTenant: async (id) => database.select().from(tenants).where(eq(tenants.id, id)).get(),
    listTenants: async ({ limit, after }) =>
      database
        .select()
        .from(tenants)
        .where(after === undefined ? undefined : gt(tenants.id, after))
        .orderBy(asc(tenants.id))
        .limit(limit)
        .all(),
    updateTenant: async (id, changes) => {
      database.update(tenants).set(changes).where(eq(tenants.id, id)).run();
    },

    insertApiKey: async (key) => {
      database.insert(apiKeys).values(key).run();
    },
    findApiKeyByHash: async (keyHash) =>
      database.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash)).get(),
    getApiKey: async (id) => database.select().from(apiKeys).where(eq(apiKeys.id, id)).get(),
    listApiKeys: async (tenantId) =>
      database
        .select()
        .from(apiKeys)
        .where(eq(apiKeys.tenantId, tenantId))
        .orderBy(asc(apiKeys.createdAtMs), asc(apiKeys.id))
        .all(),
    revokeApiKey: async (id, revokedAtMs) => {
      database
        .update(apiKeys)
        .set({ status: 'revoked', revokedAtMs })
        .where(and(eq(apiKeys.id, id), eq(apiKeys.status, 'active')))
        .run();
    },
    updateApiKey: async (id, changes) =>
      database
        .update(apiKeys)
        .set(changes)
        .where(and(eq(apiKeys.id, id), eq(apiKeys.status, 'active')))
        .returning({ id: apiKeys.id })
        .all().length > 0,

    insertProvider: async (provider) => {
      database.insert(providers).values(provider).run();
    },
    getProvider: async (id) => database.select().from(providers).where(eq(providers.id, id)).get(),
    findProviderByTokenHash: async (tokenHash) =>
      database.select().from(providers).where(eq(providers.tokenHash, tokenHash)).get(),
    listProviders: async () => database.select().from(providers).orderBy(asc(providers.id)).all(),
    replaceProviderToken: async (id, tokenHash) =>
      database
        .update(providers)
        .set({ tokenHash })
        .where(eq(providers.id, id))
        .returning({ id: providers.id })
        .all().length > 0,
    publishPayoutRate: async (rate) =>
      // The version is read and written in one transaction so two publishers never share one.
      database.transaction((transaction): PayoutRateRecord => {
        const latest = transaction
          .select({ version: max(providerPayoutRates.version) })
          .from(providerPayoutRates)
          .where(eq(providerPayoutRates.providerId, rate.providerId))
          .get();
        const stored: PayoutRateRecord = { ...rate, version: (latest?.version ?? 0) + 1 };
        transaction.insert(providerPayoutRates).values(stored).run();
        return stored;
      }),
    listPayoutRates: async (providerId) =>
      database
        .select()
        .from(providerPayoutRates)
        .where(
          providerId === undefined ? undefined : eq(providerPayoutRates.providerId, providerId),
        )
        .orderBy(asc(providerPayoutRates.providerId), asc(providerPayoutRates.version))
        .all(),

    insertBackendBelowCap: async (backend, backendsMax) =>
      // IMMEDIATE takes the write lock before the count, so no other writer slips in between.
      database.transaction(
        (transaction) => {
          const live = transaction
            .select({ value: count() })
            .from(backends)
            .where(and(eq(backends.providerId, backend.providerId), ne(backends.state, 'removed')))
            .get();
          if ((live?.value ?? 0) >= backendsMax) {
            return false;
          }
          transaction.insert(backends).values(backend).run();
          return true;
        },
        { behavior: 'immediate' },
      ),
    getBackend: async (id) =>
      database
        .select()
        .from(backends)
        .where(and(eq(backends.id, id), ne(backends.state, 'removed')))
        .get(),
    listLiveBackends: async () =>
      database
        .select()
        .from(backends)
        .where(ne(backends.state, 'removed'))
        .orderBy(asc(backends.id))
        .all(),
    listBackendsOfProvider: async (providerId) =>
      database
        .select()
        .from(backends)
        .where(and(eq(backends.providerId, providerId), ne(backends.state, 'removed')))
        .orderBy(asc(backends.id))
        .all(),
    updateBackend: async (id, changes, updatedAtMs) => {
      database
        .update(backends)
        .set({ ...changes, updatedAtMs })
        .where(eq(backends.id, id))
        .run();
    },

    ensureModel: async (id, createdAtMs) => {
      database
        .insert(models)
        .values({ id, ownedBy: 'tokenbank', outputTokensDefault: null, createdAtMs })
        .onConflictDoNothing()
        .run();
    },
    listModels: async () => database.select().from(models).orderBy(asc(models.id)).all(),

    publishPrice: async (price) =>
      // The version is read and written in one transaction so two publishers never share one.
      database.transaction((transaction): PriceRecord => {
        const latest = transaction
          .select({ version: max(prices.version) })
          .from(prices)
          .where(and(eq(prices.model, price.model), eq(prices.region, price.region)))
          .get();
        const stored: PriceRecord = { ...price, version: (latest?.version ?? 0) + 1 };
        transaction.insert(prices).values(stored).run();
        return stored;
      }),
    listPrices: async () =>
      database.select().from(prices).orderBy(asc(prices.createdAtMs), asc(prices.version)).all(),
    publishMeterPrice: async (price) => {
      database.insert(meterPrices).values(price).run();
    },
    listMeterPrices: async () =>
      database
        .select()
        .from(meterPrices)
        .orderBy(asc(meterPrices.createdAtMs), asc(meterPrices.id))
        .all(),

    listAdminCredentials: async () =>
      database.select().from(adminCredentials).orderBy(asc(adminCredentials.createdAtMs)).all(),
    insertFirstAdminCredential: async (credential) =>
      database.transaction(
        (transaction) => {
          if (transaction.select({ id: adminCredentials.id }).from(adminCredentials).get()) {
            return false;
          }
          transaction.insert(adminCredentials).values(credential).run();
          return true;
        },
        { behavior: 'immediate' },
      ),
    replaceAdminCredentials: async (credential) => {
      database.transaction((transaction) => {
        transaction.delete(adminCredentials).run();
        transaction.insert(adminCredentials).values(credential).run();
      });
    },

    usageOfDay: async (tenantId, day) =>
      database
        .select()
        .from(usageDaily)
        .where(and(eq(usageDaily.tenantId, tenantId), eq(usageDaily.day, day)))
        .get(),

    ping: async () => {
      database.get(sql`select 1`);
    },
  };
}
