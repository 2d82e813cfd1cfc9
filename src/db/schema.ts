/**
 * The store's tables (drizzle sqlite-core). drizzle-kit generates the migrations in drizzle/ from
 * this file. Secrets are never stored: keys and tokens keep only their SHA-256.
 */
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { createdAtMs, money, stringList } from './columns.ts';

export const tenants = sqliteTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  homeRegion: text('home_region'),
  /** NULL lets the tenant be served anywhere; a list is a hard residency filter. */
  allowedRegions: stringList('allowed_regions'),
  allowMaxTokensClamp: integer('allow_max_tokens_clamp', { mode: 'boolean' }).notNull(),
  createdAtMs: createdAtMs(),
});

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name'),
    keyHash: text('key_hash').notNull(),
    /** The first characters of the key, enough for a person to tell keys apart. */
    keyPrefix: text('key_prefix').notNull(),
    models: stringList('models'),
    requestsPerMinuteMax: integer('rpm'),
    tokensPerMinuteMax: integer('tpm'),
    status: text('status', { enum: ['active', 'revoked'] }).notNull(),
    createdAtMs: createdAtMs(),
    revokedAtMs: integer('revoked_at_ms'),
  },
  (table) => [
    uniqueIndex('api_keys_key_hash').on(table.keyHash),
    index('api_keys_tenant').on(table.tenantId),
  ],
);

export const providers = sqliteTable(
  'providers',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    /** The provider's share of what its backends earn, in basis points. */
    payoutBps: integer('payout_bps').notNull(),
    tokenHash: text('token_hash').notNull(),
    createdAtMs: createdAtMs(),
  },
  (table) => [uniqueIndex('providers_token_hash').on(table.tokenHash)],
);

export const backends = sqliteTable(
  'backends',
  {
    id: text('id').primaryKey(),
    providerId: text('provider_id')
      .notNull()
      .references(() => providers.id),
    url: text('url').notNull(),
    region: text('region').notNull(),
    models: stringList('models').notNull(),
    slots: integer('slots').notNull(),
    /** Sent upstream as a bearer token; never returned by the API. */
    apiKey: text('api_key'),
    metricsUrl: text('metrics_url'),
    state: text('state', { enum: ['active', 'draining', 'removed'] }).notNull(),
    createdAtMs: createdAtMs(),
    updatedAtMs: integer('updated_at_ms').notNull(),
  },
  (table) => [index('backends_provider').on(table.providerId)],
);

export const models = sqliteTable('models', {
  id: text('id').primaryKey(),
  ownedBy: text('owned_by').notNull(),
  /** Output cap assumed for a request without max_tokens; NULL uses the deployment default. */
  outputTokensDefault: integer('output_tokens_default'),
  createdAtMs: createdAtMs(),
});

export const prices = sqliteTable(
  'prices',
  {
    id: text('id').primaryKey(),
    model: text('model').notNull(),
    /** '' is the price of every region without one of its own. */
    region: text('region').notNull(),
    version: integer('version').notNull(),
    /** Micro-units per 1,000,000 tokens. */
    inputPerMillion: money('input_per_million').notNull(),
    cachedInputPerMillion: money('cached_input_per_million').notNull(),
    outputPerMillion: money('output_per_million').notNull(),
    currency: text('currency').notNull(),
    effectiveAtMs: integer('effective_at_ms').notNull(),
    offpeakStart: text('offpeak_start'),
    offpeakEnd: text('offpeak_end'),
    offpeakTimezone: text('offpeak_timezone'),
    offpeakMultiplierBps: integer('offpeak_multiplier_bps'),
    createdAtMs: createdAtMs(),
  },
  (table) => [
    uniqueIndex('prices_model_region_version').on(table.model, table.region, table.version),
  ],
);

export const adminCredentials = sqliteTable(
  'admin_credentials',
  {
    id: text('id').primaryKey(),
    tokenHash: text('token_hash').notNull(),
    createdAtMs: createdAtMs(),
  },
  (table) => [uniqueIndex('admin_credentials_token_hash').on(table.tokenHash)],
);
