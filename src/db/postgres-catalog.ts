/**
 * The Catalog over PostgreSQL (drizzle pg-core), for several gateway replicas on one database.
 * Only drizzle's query builder and pg-core types are used here; the runtime opens the pool
 * (runtime/node/postgres/postgres-database.ts). Rows of postgres-schema.ts are returned as the Catalog's
 * records, which are inferred from schema.ts: the compiler checks the two schemas agree.
 */
import { and, asc, count, eq, gt, max, ne, sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { Catalog, PayoutRateRecord, PriceRecord } from './catalog.ts';
import * as schema from './postgres-schema.ts';

export type PostgresDatabase = PgDatabase<PgQueryResultHKT, typeof schema>;

export function createPostgresCatalog(database: PostgresDatabase): Catalog {
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
  const first = <Row>(rows: Row[]): Row | undefined => rows[0];
  return {
    insertTenant: async (tenant) => {
      await database.insert(tenants).values(tenant);
    },
    getTenant: async (id) =>
      first(await database.select().from(tenants).where(eq(tenants.id, id)).limit(1)),
    listTenants: async ({ limit, after }) =>
      database
        .select()
        .from(tenants)
        .where(after === undefined ? undefined : gt(tenants.id, after))
        .orderBy(asc(tenants.id))
        .limit(limit),
    updateTenant: async (id, changes) => {
      await database.update(tenants).set(changes).where(eq(tenants.id, id));
    },

    insertApiKey: async (key) => {
      await database.insert(apiKeys).values(key);
    },
    findApiKeyByHash: async (keyHash) =>
      first(await database.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash)).limit(1)),
    getApiKey: async (id) =>
      first(await database.select().from(apiKeys).where(eq(apiKeys.id, id)).limit(1)),
    listApiKeys: async (tenantId) =>
      database
        .select()
        .from(apiKeys)
        .where(eq(apiKeys.tenantId, tenantId))
        .orderBy(asc(apiKeys.createdAtMs), asc(apiKeys.id)),
    revokeApiKey: async (id, revokedAtMs) => {
      await database
        .update(apiKeys)
        .set({ status: 'revoked', revokedAtMs })
        .where(and(eq(apiKeys.id, id), eq(apiKeys.status, 'active')));
    },
    updateApiKey: async (id, changes) =>
      (
        await database
          .update(apiKeys)
          .set(changes)
          .where(and(eq(apiKeys.id, id), eq(apiKeys.status, 'active')))
          .returning({ id: apiKeys.id })
      ).length > 0,

    insertProvider: async (provider) => {
      await database.insert(providers).values(provider);
    },
    getProvider: async (id) =>
      first(await database.select().from(providers).where(eq(providers.id, id)).limit(1)),
    findProviderByTokenHash: async (tokenHash) =>
      first(
        await database.select().from(providers).where(eq(providers.tokenHash, tokenHash)).limit(1),
      ),
    listProviders: async () => database.select().from(providers).orderBy(asc(providers.id)),
    replaceProviderToken: async (id, tokenHash) =>
      (
        await database
          .update(providers)
          .set({ tokenHash })
          .where(eq(providers.id, id))
          .returning({ id: providers.id })
      ).length > 0,
    publishPayoutRate: async (rate) =>
      database.transaction(async (transaction): Promise<PayoutRateRecord> => {
        // Two replicas publishing for one provider take turns on this lock, so they never read
        // the same latest version; it is released at commit.
        await transaction.execute(
          sql`SELECT pg_advisory_xact_lock(hashtext(${`payout_rate:${rate.providerId}`}))`,
        );
        const [latest] = await transaction
          .select({ version: max(providerPayoutRates.version) })
          .from(providerPayoutRates)
          .where(eq(providerPayoutRates.providerId, rate.providerId));
        const stored: PayoutRateRecord = { ...rate, version: (latest?.version ?? 0) + 1 };
        await transaction.insert(providerPayoutRates).values(stored);
        return stored;
      }),
    listPayoutRates: async (providerId) =>
      database
        .select()
        .from(providerPayoutRates)
        .where(
          providerId === undefined ? undefined : eq(providerPayoutRates.providerId, providerId),
        )
        .orderBy(asc(providerPayoutRates.providerId), asc(providerPayoutRates.version)),

    insertBackendBelowCap: async (backend, backendsMax) =>
      database.transaction(async (transaction) => {
        // Registrations of one provider take turns on this lock, so the count stays true.
        await transaction.execute(
          sql`SELECT pg_advisory_xact_lock(hashtext(${`backends:${backend.providerId}`}))`,
        );
        const [live] = await transaction
          .select({ value: count() })
          .from(backends)
          .where(and(eq(backends.providerId, backend.providerId), ne(backends.state, 'removed')));
        if ((live?.value ?? 0) >= backendsMax) {
          return false;
        }
        await transaction.insert(backends).values(backend);
        return true;
      }),
    getBackend: async (id) =>
      first(
        await database
          .select()
          .from(backends)
          .where(and(eq(backends.id, id), ne(backends.state, 'removed')))
          .limit(1),
      ),
    listLiveBackends: async () =>
      database
        .select()
        .from(backends)
        .where(ne(backends.state, 'removed'))
        .orderBy(asc(backends.id)),
    listBackendsOfProvider: async (providerId) =>
      database
        .select()
        .from(backends)
        .where(and(eq(backends.providerId, providerId), ne(backends.state, 'removed')))
        .orderBy(asc(backends.id)),
    updateBackend: async (id, changes, updatedAtMs) => {
      await database
        .update(backends)
        .set({ ...changes, updatedAtMs })
        .where(eq(backends.id, id));
    },

    ensureModel: async (id, createdAtMs) => {
      await database
        .insert(models)
        .values({ id, ownedBy: 'tokenbank', outputTokensDefault: null, createdAtMs })
        .onConflictDoNothing();
    },
    listModels: async () => database.select().from(models).orderBy(asc(models.id)),

    publishPrice: async (price) =>
      database.transaction(async (transaction): Promise<PriceRecord> => {
        // Two replicas publishing for one model and region take turns on this lock, so they
        // never read the same latest version; it is released at commit.
        await transaction.execute(
          sql`SELECT pg_advisory_xact_lock(hashtext(${`price:${price.model}:${price.region}`}))`,
        );
        const [latest] = await transaction
          .select({ version: max(prices.version) })
          .from(prices)
          .where(and(eq(prices.model, price.model), eq(prices.region, price.region)));
        const stored: PriceRecord = { ...price, version: (latest?.version ?? 0) + 1 };
        await transaction.insert(prices).values(stored);
        return stored;
      }),
    listPrices: async () =>
      database.select().from(prices).orderBy(asc(prices.createdAtMs), asc(prices.version)),
    publishMeterPrice: async (price) => {
      await database.insert(meterPrices).values(price);
    },
    listMeterPrices: async () =>
      database
        .select()
        .from(meterPrices)
        .orderBy(asc(meterPrices.createdAtMs), asc(meterPrices.id)),

    listAdminCredentials: async () =>
      database.select().from(adminCredentials).orderBy(asc(adminCredentials.createdAtMs)),
    insertFirstAdminCredential: async (credential) =>
      database.transaction(async (transaction) => {
        // Replicas starting together take turns here: the first inserts, the others see it.
        await transaction.execute(sql`SELECT pg_advisory_xact_lock(hashtext('admin_credentials'))`);
        const [existing] = await transaction
          .select({ id: adminCredentials.id })
          .from(adminCredentials)
          .limit(1);
        if (existing) {
          return false;
        }
        await transaction.insert(adminCredentials).values(credential);
        return true;
      }),
    replaceAdminCredentials: async (credential) => {
      await database.transaction(async (transaction) => {
        await transaction.execute(sql`SELECT pg_advisory_xact_lock(hashtext('admin_credentials'))`);
        await transaction.delete(adminCredentials);
        await transaction.insert(adminCredentials).values(credential);
      });
    },

    usageOfDay: async (tenantId, day) =>
      first(
        await database
          .select()
          .from(usageDaily)
          .where(and(eq(usageDaily.tenantId, tenantId), eq(usageDaily.day, day)))
          .limit(1),
      ),

    ping: async () => {
      await database.execute(sql`select 1`);
    },
  };
}
