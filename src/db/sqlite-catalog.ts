/**
 * The Catalog over a drizzle SQLite database: better-sqlite3 in the Node runtime, D1 on
 * Cloudflare Workers (portable-sqlite.ts). Only drizzle's runtime-neutral query builder is used
 * here; the runtime opens the database. A write that depends on what is stored (a version, a cap,
 * the first credential) is one statement, so it holds on D1, which has no interactive transaction.
 */
import { and, asc, count, eq, gt, max, ne, notExists, type SQL, sql } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { assert } from '../assert.ts';
import type { Catalog } from './catalog.ts';
import { insertWhere, type PortableSqlite } from './portable-sqlite.ts';
import * as schema from './schema.ts';

/** One more than the highest version of the rows that `where` picks, computed in the insert. */
function nextVersion(table: SQLiteTable, version: SQLiteColumn, where: SQL | undefined): SQL {
  assert(where !== undefined, 'a version is counted among the rows of one key');
  return sql`(SELECT COALESCE(${max(version)}, 0) + 1 FROM ${table} WHERE ${where})`;
}

export function createSqliteCatalog({ database, together }: PortableSqlite): Catalog {
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
      await database.insert(tenants).values(tenant).run();
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
      await database.update(tenants).set(changes).where(eq(tenants.id, id)).run();
    },

    insertApiKey: async (key) => {
      await database.insert(apiKeys).values(key).run();
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
      await database
        .update(apiKeys)
        .set({ status: 'revoked', revokedAtMs })
        .where(and(eq(apiKeys.id, id), eq(apiKeys.status, 'active')))
        .run();
    },
    updateApiKey: async (id, changes) => {
      const changed = await database
        .update(apiKeys)
        .set(changes)
        .where(and(eq(apiKeys.id, id), eq(apiKeys.status, 'active')))
        .returning({ id: apiKeys.id })
        .all();
      return changed.length > 0;
    },

    insertProvider: async (provider) => {
      await database.insert(providers).values(provider).run();
    },
    getProvider: async (id) => database.select().from(providers).where(eq(providers.id, id)).get(),
    findProviderByTokenHash: async (tokenHash) =>
      database.select().from(providers).where(eq(providers.tokenHash, tokenHash)).get(),
    listProviders: async () => database.select().from(providers).orderBy(asc(providers.id)).all(),
    replaceProviderToken: async (id, tokenHash) => {
      const changed = await database
        .update(providers)
        .set({ tokenHash })
        .where(eq(providers.id, id))
        .returning({ id: providers.id })
        .all();
      return changed.length > 0;
    },
    publishPayoutRate: async (rate) =>
      // The version is computed inside the insert, so two publishers never share one.
      database
        .insert(providerPayoutRates)
        .values({
          ...rate,
          version: nextVersion(
            providerPayoutRates,
            providerPayoutRates.version,
            eq(providerPayoutRates.providerId, rate.providerId),
          ),
        })
        .returning()
        .get(),
    listPayoutRates: async (providerId) =>
      database
        .select()
        .from(providerPayoutRates)
        .where(
          providerId === undefined ? undefined : eq(providerPayoutRates.providerId, providerId),
        )
        .orderBy(asc(providerPayoutRates.providerId), asc(providerPayoutRates.version))
        .all(),

    insertBackendBelowCap: async (backend, backendsMax) => {
      // The count is taken inside the insert, so no other registration slips in between.
      const live = database
        .select({ value: count() })
        .from(backends)
        .where(and(eq(backends.providerId, backend.providerId), ne(backends.state, 'removed')));
      const inserted = await insertWhere(
        database,
        backends,
        backend,
        sql`(${live}) < ${backendsMax}`,
      )
        .returning({ id: backends.id })
        .all();
      return inserted.length > 0;
    },
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
      await database
        .update(backends)
        .set({ ...changes, updatedAtMs })
        .where(eq(backends.id, id))
        .run();
    },

    ensureModel: async (id, createdAtMs) => {
      await database
        .insert(models)
        .values({ id, ownedBy: 'tokenbank', outputTokensDefault: null, createdAtMs })
        .onConflictDoNothing()
        .run();
    },
    listModels: async () => database.select().from(models).orderBy(asc(models.id)).all(),

    publishPrice: async (price) =>
      // The version is computed inside the insert, so two publishers never share one.
      database
        .insert(prices)
        .values({
          ...price,
          version: nextVersion(
            prices,
            prices.version,
            and(eq(prices.model, price.model), eq(prices.region, price.region)),
          ),
        })
        .returning()
        .get(),
    listPrices: async () =>
      database.select().from(prices).orderBy(asc(prices.createdAtMs), asc(prices.version)).all(),
    publishMeterPrice: async (price) => {
      await database.insert(meterPrices).values(price).run();
    },
    listMeterPrices: async () =>
      database
        .select()
        .from(meterPrices)
        .orderBy(asc(meterPrices.createdAtMs), asc(meterPrices.id))
        .all(),

    listAdminCredentials: async () =>
      database.select().from(adminCredentials).orderBy(asc(adminCredentials.createdAtMs)).all(),
    insertFirstAdminCredential: async (credential) => {
      const none = notExists(database.select({ id: adminCredentials.id }).from(adminCredentials));
      const inserted = await insertWhere(database, adminCredentials, credential, none)
        .returning({ id: adminCredentials.id })
        .all();
      return inserted.length > 0;
    },
    replaceAdminCredentials: async (credential) => {
      await together([
        database.delete(adminCredentials),
        database.insert(adminCredentials).values(credential),
      ]);
    },

    usageOfDay: async (tenantId, day) =>
      database
        .select()
        .from(usageDaily)
        .where(and(eq(usageDaily.tenantId, tenantId), eq(usageDaily.day, day)))
        .get(),

    ping: async () => {
      await database.get(sql`select 1`);
    },
  };
}
