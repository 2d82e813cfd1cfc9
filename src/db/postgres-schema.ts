/**
 * The store's tables for PostgreSQL (drizzle pg-core), mirroring schema.ts column for column so
 * that both stores serve the same row types: the Catalog's records are inferred from schema.ts,
 * and a PostgreSQL row must be assignable to them (postgres-catalog.ts checks it at compile time).
 * drizzle-kit generates drizzle-postgres/ from this file (drizzle-postgres.config.ts).
 *
 * Money is `bigint` in mode 'bigint': never a JS number. Times are `bigint` milliseconds in mode
 * 'number' (epoch milliseconds exceed int4 but stay far below 2^53). Lists are jsonb.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import {
  pgBinary as binary,
  pgCreatedAtMs as createdAtMs,
  pgEpochMs as epochMs,
  pgMoney as money,
  pgSerialId as serialId,
  pgStringList as stringList,
} from './columns.ts';
import {
  apiKeyStatuses,
  type BatchErrorItem,
  backendStates,
  batchEndpoints,
  batchLineStatuses,
  batchStatuses,
  couponKinds,
  couponStatuses,
  filePurposes,
  meterNames,
  reservationStatuses,
  type StoredLine,
  type StoredLineResult,
  type StoredPayer,
  transferFlags,
  usageOutcomes,
  usageSources,
} from './enums.ts';

export const tenants = pgTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  homeRegion: text('home_region'),
  allowedRegions: stringList('allowed_regions'),
  allowMaxTokensClamp: boolean('allow_max_tokens_clamp').notNull(),
  allowKeyManagement: boolean('allow_key_management').notNull().default(false),
  createdAtMs: createdAtMs(),
});

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name'),
    keyHash: text('key_hash').notNull(),
    keyPrefix: text('key_prefix').notNull(),
    models: stringList('models'),
    requestsPerMinuteMax: integer('rpm'),
    tokensPerMinuteMax: integer('tpm'),
    status: text('status', { enum: apiKeyStatuses }).notNull(),
    createdAtMs: createdAtMs(),
    revokedAtMs: epochMs('revoked_at_ms'),
  },
  (table) => [
    uniqueIndex('api_keys_key_hash').on(table.keyHash),
    index('api_keys_tenant').on(table.tenantId),
  ],
);

export const providers = pgTable(
  'providers',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    payoutBps: integer('payout_bps').notNull(),
    tokenHash: text('token_hash').notNull(),
    createdAtMs: createdAtMs(),
  },
  (table) => [uniqueIndex('providers_token_hash').on(table.tokenHash)],
);

export const providerPayoutRates = pgTable(
  'provider_payout_rates',
  {
    providerId: text('provider_id')
      .notNull()
      .references(() => providers.id),
    version: integer('version').notNull(),
    payoutBps: integer('payout_bps').notNull(),
    effectiveAtMs: epochMs('effective_at_ms').notNull(),
    createdAtMs: createdAtMs(),
  },
  (table) => [
    primaryKey({ columns: [table.providerId, table.version] }),
    index('provider_payout_rates_effective').on(table.providerId, table.effectiveAtMs),
  ],
);

export const backends = pgTable(
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
    /** GPUs behind the backend: what a card-hour lease of the whole backend pays for. */
    accelerators: integer('accelerators').notNull().default(1),
    /** The provider's name of its accelerator model (e.g. "H100-80G"); informative only. */
    accelerator: text('accelerator'),
    apiKey: text('api_key'),
    metricsUrl: text('metrics_url'),
    /** `pending` until the operator approves a provider's registration: it serves nothing. */
    state: text('state', { enum: backendStates }).notNull(),
    createdAtMs: createdAtMs(),
    updatedAtMs: epochMs('updated_at_ms').notNull(),
  },
  (table) => [index('backends_provider').on(table.providerId)],
);

export const models = pgTable('models', {
  id: text('id').primaryKey(),
  ownedBy: text('owned_by').notNull(),
  outputTokensDefault: integer('output_tokens_default'),
  createdAtMs: createdAtMs(),
});

export const prices = pgTable(
  'prices',
  {
    id: text('id').primaryKey(),
    model: text('model').notNull(),
    region: text('region').notNull(),
    version: integer('version').notNull(),
    inputPerMillion: money('input_per_million').notNull(),
    cachedInputPerMillion: money('cached_input_per_million').notNull(),
    outputPerMillion: money('output_per_million').notNull(),
    /** Micro-units per accelerator-hour of a lease; NULL: the model is not offered for leases. */
    cardHourMicro: money('card_hour'),
    currency: text('currency').notNull(),
    effectiveAtMs: epochMs('effective_at_ms').notNull(),
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

/**
 * Prices of the storage and transport meters (API.md "The bank's three meters"), micro-units per
 * GB-hour or per GB. Rows are never changed: a new row for the same meter and regions replaces
 * the older one from its creation on. '' as a region means any region; for transport, a region
 * pair (the tenant's home region to the serving backend's) overrides the default.
 */
export const meterPrices = pgTable('meter_prices', {
  id: text('id').primaryKey(),
  meter: text('meter', { enum: meterNames }).notNull(),
  fromRegion: text('from_region').notNull(),
  toRegion: text('to_region').notNull(),
  priceMicro: money('price').notNull(),
  createdAtMs: createdAtMs(),
});

export const adminCredentials = pgTable(
  'admin_credentials',
  {
    id: text('id').primaryKey(),
    tokenHash: text('token_hash').notNull(),
    createdAtMs: createdAtMs(),
  },
  (table) => [uniqueIndex('admin_credentials_token_hash').on(table.tokenHash)],
);

export const coupons = pgTable(
  'coupons',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    kind: text('kind', { enum: couponKinds }).notNull(),
    program: text('program').notNull(),
    amount: money('amount').notNull(),
    coverageBps: integer('coverage_bps').notNull(),
    models: stringList('models'),
    regions: stringList('regions'),
    priority: integer('priority').notNull(),
    startsAtMs: epochMs('starts_at_ms').notNull(),
    expiresAtMs: epochMs('expires_at_ms'),
    status: text('status', { enum: couponStatuses }).notNull(),
    reference: text('reference').notNull(),
    createdAtMs: createdAtMs(),
    endedAtMs: epochMs('ended_at_ms'),
  },
  (table) => [
    uniqueIndex('coupons_tenant_reference').on(table.tenantId, table.reference),
    index('coupons_tenant').on(table.tenantId),
    index('coupons_active_expiry').on(table.expiresAtMs).where(sql`${table.status} = 'active'`),
  ],
);

/** Running totals per account; the CHECK stands behind the ledger's guarded updates. */
export const accounts = pgTable(
  'accounts',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    ownerId: text('owner_id'),
    noOverdraft: boolean('no_overdraft').notNull(),
    debitsPosted: money('debits_posted').notNull(),
    creditsPosted: money('credits_posted').notNull(),
    debitsPending: money('debits_pending').notNull(),
    creditsPending: money('credits_pending').notNull(),
  },
  (table) => [
    check(
      'accounts_no_overdraft',
      sql`NOT ${table.noOverdraft} OR ${table.creditsPosted} - ${table.debitsPosted} - ${table.debitsPending} >= 0`,
    ),
    index('accounts_owner').on(table.ownerId),
  ],
);

/** One row per ledger transaction; the unique idempotency key makes each movement happen once. */
export const ledgerTransactions = pgTable(
  'ledger_transactions',
  {
    id: serialId(),
    idempotencyKey: text('idempotency_key').notNull(),
    kind: text('kind').notNull(),
    tenantId: text('tenant_id'),
    requestId: text('request_id'),
    reference: text('reference'),
    amount: money('amount').notNull(),
    createdAtMs: createdAtMs(),
    providerId: text('provider_id'),
    memo: text('memo'),
  },
  (table) => [
    uniqueIndex('ledger_transactions_idempotency_key').on(table.idempotencyKey),
    index('ledger_transactions_tenant').on(table.tenantId),
    index('ledger_transactions_provider')
      .on(table.providerId)
      .where(sql`${table.providerId} IS NOT NULL`),
  ],
);

export const transfers = pgTable(
  'transfers',
  {
    id: serialId(),
    transactionId: bigint('transaction_id', { mode: 'number' })
      .notNull()
      .references(() => ledgerTransactions.id),
    debitAccountId: text('debit_account_id').notNull(),
    creditAccountId: text('credit_account_id').notNull(),
    amount: money('amount').notNull(),
    flag: text('flag', { enum: transferFlags }).notNull(),
    pendingId: bigint('pending_id', { mode: 'number' }),
    createdAtMs: createdAtMs(),
  },
  (table) => [
    index('transfers_transaction').on(table.transactionId),
    // Partial, as on SQLite: only resolutions name a hold.
    uniqueIndex('transfers_pending_resolution')
      .on(table.pendingId)
      .where(sql`${table.pendingId} IS NOT NULL`),
    check('transfers_positive', sql`${table.amount} > 0`),
  ],
);

export const reservations = pgTable(
  'reservations',
  {
    requestId: text('request_id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    keyId: text('key_id').notNull(),
    model: text('model').notNull(),
    region: text('region').notNull(),
    priceId: text('price_id').notNull(),
    multiplierBps: integer('multiplier_bps').notNull(),
    reservedAmount: money('reserved_amount').notNull(),
    status: text('status', { enum: reservationStatuses }).notNull(),
    instanceId: text('instance_id').notNull(),
    backendId: text('backend_id'),
    promptTokensEstimate: integer('prompt_tokens_estimate').notNull(),
    checkpointInputTokens: integer('checkpoint_input_tokens'),
    checkpointOutputTokens: integer('checkpoint_output_tokens'),
    checkpointAtMs: epochMs('checkpoint_at_ms'),
    admittedAtMs: epochMs('admitted_at_ms').notNull(),
    endedAtMs: epochMs('ended_at_ms'),
  },
  (table) => [index('reservations_status').on(table.status, table.admittedAtMs)],
);

export const usageRecords = pgTable(
  'usage_records',
  {
    requestId: text('request_id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    keyId: text('key_id').notNull(),
    model: text('model').notNull(),
    region: text('region'),
    backendId: text('backend_id'),
    providerId: text('provider_id'),
    inputTokens: integer('input_tokens'),
    cachedInputTokens: integer('cached_input_tokens'),
    outputTokens: integer('output_tokens'),
    reasoningTokens: integer('reasoning_tokens'),
    usageSource: text('usage_source', { enum: usageSources }),
    outcome: text('outcome', { enum: usageOutcomes }).notNull(),
    cost: money('cost').notNull(),
    providerShare: money('provider_share').notNull(),
    /** Decimal-string amounts, as the API shows them: `[{source, id, amount}]`. */
    lines: jsonb('lines').$type<StoredLine[]>().notNull().default(sql`'[]'::jsonb`),
    paidBy: jsonb('paid_by').$type<StoredPayer[]>().notNull(),
    priceId: text('price_id'),
    /** The card-hour lease that served it (not token-billed); NULL otherwise. */
    leaseId: text('lease_id'),
    verifiedOutputTokens: integer('verified_output_tokens'),
    claimedInputTokens: integer('claimed_input_tokens'),
    claimedOutputTokens: integer('claimed_output_tokens'),
    createdAtMs: createdAtMs(),
    settledAtMs: epochMs('settled_at_ms').notNull(),
  },
  (table) => [
    index('usage_records_tenant_time').on(table.tenantId, table.createdAtMs),
    index('usage_records_provider_time').on(table.providerId, table.createdAtMs),
    // A period's records in time order (a program's statement), without reading the others.
    index('usage_records_time').on(table.createdAtMs, table.requestId),
  ],
);

/** Per tenant and UTC day, the sum of its usage records: kept by a trigger (schema.ts). */
export const usageDaily = pgTable(
  'usage_daily',
  {
    tenantId: text('tenant_id').notNull(),
    day: integer('day').notNull(),
    requests: bigint('requests', { mode: 'number' }).notNull(),
    inputTokens: bigint('input_tokens', { mode: 'number' }).notNull(),
    cachedInputTokens: bigint('cached_input_tokens', { mode: 'number' }).notNull(),
    outputTokens: bigint('output_tokens', { mode: 'number' }).notNull(),
    cost: money('cost').notNull(),
  },
  (table) => [primaryKey({ columns: [table.tenantId, table.day] })],
);

/**
 * Card-hour leases (API.md "Dedicated capacity"): whole backends pinned to a tenant for a term,
 * paid up front. The money lives in the ledger (`lease:{id}` and `lease_end:{id}`); this row
 * holds the terms. `paid_at_ms` is NULL between the reservation of the backends and the charge:
 * such a row past its claim window holds nothing (leases.ts). `ended_at_ms` is set by an early end,
 * `settled_at_ms` once the end's refund and the providers' shares were booked.
 */
export const leases = pgTable(
  'leases',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    model: text('model').notNull(),
    /** The region asked for; NULL: any region the tenant may use. */
    region: text('region'),
    accelerators: integer('accelerators').notNull(),
    hours: integer('hours').notNull(),
    priceId: text('price_id').notNull(),
    cardHourMicro: money('card_hour').notNull(),
    cost: money('cost').notNull(),
    startsAtMs: epochMs('starts_at_ms').notNull(),
    endsAtMs: epochMs('ends_at_ms').notNull(),
    /** What paid the charge, as the end's refund returns it; NULL until it was paid. */
    paidBy: jsonb('paid_by').$type<StoredPayer[]>(),
    paidAtMs: epochMs('paid_at_ms'),
    endedAtMs: epochMs('ended_at_ms'),
    settledAtMs: epochMs('settled_at_ms'),
    createdAtMs: createdAtMs(),
  },
  (table) => [index('leases_tenant').on(table.tenantId), index('leases_ends').on(table.endsAtMs)],
);

/** The backends of a lease, each with the accelerators it brings and when it was seen failed. */
export const leaseBackends = pgTable(
  'lease_backends',
  {
    leaseId: text('lease_id')
      .notNull()
      .references(() => leases.id),
    backendId: text('backend_id').notNull(),
    providerId: text('provider_id').notNull(),
    accelerators: integer('accelerators').notNull(),
    /** When the lease job first found it unhealthy or gone; NULL while it serves. */
    failedAtMs: epochMs('failed_at_ms'),
  },
  (table) => [
    primaryKey({ columns: [table.leaseId, table.backendId] }),
    index('lease_backends_backend').on(table.backendId),
  ],
);

export const gatewayInstances = pgTable('gateway_instances', {
  id: text('id').primaryKey(),
  startedAtMs: epochMs('started_at_ms').notNull(),
  heartbeatAtMs: epochMs('heartbeat_at_ms').notNull(),
});

/** Append-only: a trigger of migration 0001 refuses UPDATE and DELETE. */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: serialId(),
    atMs: epochMs('at_ms').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    entityType: text('entity_type').notNull(),
    entityId: text('entity_id'),
    tenantId: text('tenant_id'),
    requestId: text('request_id').notNull(),
    before: jsonb('before').$type<unknown>(),
    after: jsonb('after').$type<unknown>(),
  },
  (table) => [
    index('audit_events_entity').on(table.entityId),
    index('audit_events_tenant').on(table.tenantId),
  ],
);

export const batches = pgTable(
  'batches',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    keyId: text('key_id').notNull(),
    endpoint: text('endpoint', { enum: batchEndpoints }).notNull(),
    inputFileId: text('input_file_id').notNull(),
    completionWindow: text('completion_window').notNull(),
    status: text('status', { enum: batchStatuses }).notNull(),
    metadata: jsonb('metadata').$type<Record<string, string>>(),
    errors: jsonb('errors').$type<BatchErrorItem[]>(),
    outputFileId: text('output_file_id'),
    errorFileId: text('error_file_id'),
    requestTotal: integer('request_total').notNull(),
    requestCompleted: integer('request_completed').notNull(),
    requestFailed: integer('request_failed').notNull(),
    inputTokens: bigint('input_tokens', { mode: 'number' }).notNull(),
    outputTokens: bigint('output_tokens', { mode: 'number' }).notNull(),
    cost: money('cost').notNull(),
    createdAtMs: createdAtMs(),
    expiresAtMs: epochMs('expires_at_ms').notNull(),
    inProgressAtMs: epochMs('in_progress_at_ms'),
    finalizingAtMs: epochMs('finalizing_at_ms'),
    completedAtMs: epochMs('completed_at_ms'),
    failedAtMs: epochMs('failed_at_ms'),
    expiredAtMs: epochMs('expired_at_ms'),
    cancellingAtMs: epochMs('cancelling_at_ms'),
    cancelledAtMs: epochMs('cancelled_at_ms'),
  },
  (table) => [
    index('batches_tenant_time').on(table.tenantId, table.createdAtMs),
    index('batches_status').on(table.status),
  ],
);

export const batchLines = pgTable(
  'batch_lines',
  {
    batchId: text('batch_id').notNull(),
    lineIndex: integer('line_index').notNull(),
    customId: text('custom_id').notNull(),
    model: text('model').notNull(),
    body: jsonb('body').$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: batchLineStatuses }).notNull(),
    runnerInstanceId: text('runner_instance_id'),
    startedAtMs: epochMs('started_at_ms'),
    endedAtMs: epochMs('ended_at_ms'),
    result: jsonb('result').$type<StoredLineResult>(),
    inputTokens: integer('input_tokens'),
    outputTokens: integer('output_tokens'),
    cost: money('cost'),
  },
  (table) => [
    primaryKey({ columns: [table.batchId, table.lineIndex] }),
    uniqueIndex('batch_lines_custom_id').on(table.batchId, table.customId),
    index('batch_lines_status').on(table.batchId, table.status, table.lineIndex),
  ],
);

/**
 * The files of the Files API, bytes included; `content` is NULL where an object store holds the
 * bytes (schema.ts says where), so both dialects keep one shape.
 */
export const files = pgTable(
  'files',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    filename: text('filename').notNull(),
    purpose: text('purpose', { enum: filePurposes }).notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    createdAtMs: createdAtMs(),
    content: binary('content'),
  },
  (table) => [
    index('files_tenant_time').on(table.tenantId, table.createdAtMs),
    check(
      'files_bytes_of_content',
      sql`${table.content} IS NULL OR ${table.bytes} = octet_length(${table.content})`,
    ),
  ],
);
