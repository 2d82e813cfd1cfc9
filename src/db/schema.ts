/**
 * The store's tables (drizzle sqlite-core). drizzle-kit generates the migrations in drizzle/ from
 * this file. Secrets are never stored: keys and tokens keep only their SHA-256.
 */
import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
} from 'drizzle-orm/sqlite-core';
import { binary, createdAtMs, money, stringList } from './columns.ts';
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

export const tenants = sqliteTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  homeRegion: text('home_region'),
  /** NULL lets the tenant be served anywhere; a list is a hard residency filter. */
  allowedRegions: stringList('allowed_regions'),
  allowMaxTokensClamp: integer('allow_max_tokens_clamp', { mode: 'boolean' }).notNull(),
  /** Whether the tenant's own keys may issue and revoke its keys (/v1/account/keys). */
  allowKeyManagement: integer('allow_key_management', { mode: 'boolean' }).notNull().default(false),
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
    status: text('status', { enum: apiKeyStatuses }).notNull(),
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

/**
 * Versions of a provider's payout rate, each in force from its `effective_at_ms`: a request is
 * paid at the rate in force when it was admitted (as its price is pinned then), the provider's
 * own `payout_bps` before its first version. Appended, never changed.
 */
export const providerPayoutRates = sqliteTable(
  'provider_payout_rates',
  {
    providerId: text('provider_id')
      .notNull()
      .references(() => providers.id),
    version: integer('version').notNull(),
    payoutBps: integer('payout_bps').notNull(),
    effectiveAtMs: integer('effective_at_ms').notNull(),
    createdAtMs: createdAtMs(),
  },
  (table) => [
    primaryKey({ columns: [table.providerId, table.version] }),
    index('provider_payout_rates_effective').on(table.providerId, table.effectiveAtMs),
  ],
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
    /** GPUs behind the backend: what a card-hour lease of the whole backend pays for. */
    accelerators: integer('accelerators').notNull().default(1),
    /** The provider's name of its accelerator model (e.g. "H100-80G"); informative only. */
    accelerator: text('accelerator'),
    /** Sent upstream as a bearer token; never returned by the API. */
    apiKey: text('api_key'),
    metricsUrl: text('metrics_url'),
    /** `pending` until the operator approves a provider's registration: it serves nothing. */
    state: text('state', { enum: backendStates }).notNull(),
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
    /** Micro-units per accelerator-hour of a lease; NULL: the model is not offered for leases. */
    cardHourMicro: money('card_hour'),
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

/**
 * Prices of the storage and transport meters (API.md "The bank's three meters"), micro-units per
 * GB-hour or per GB. Rows are never changed: a new row for the same meter and regions replaces
 * the older one from its creation on. '' as a region means any region; for transport, a region
 * pair (the tenant's home region to the serving backend's) overrides the default.
 */
export const meterPrices = sqliteTable('meter_prices', {
  id: text('id').primaryKey(),
  meter: text('meter', { enum: meterNames }).notNull(),
  fromRegion: text('from_region').notNull(),
  toRegion: text('to_region').notNull(),
  priceMicro: money('price').notNull(),
  createdAtMs: createdAtMs(),
});

export const adminCredentials = sqliteTable(
  'admin_credentials',
  {
    id: text('id').primaryKey(),
    tokenHash: text('token_hash').notNull(),
    createdAtMs: createdAtMs(),
  },
  (table) => [uniqueIndex('admin_credentials_token_hash').on(table.tokenHash)],
);

/**
 * Coupon grants. The money of a grant lives in its ledger account `coupon:{id}`; this row holds
 * its terms. `reference` makes a grant idempotent per tenant.
 */
export const coupons = sqliteTable(
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
    startsAtMs: integer('starts_at_ms').notNull(),
    expiresAtMs: integer('expires_at_ms'),
    status: text('status', { enum: couponStatuses }).notNull(),
    reference: text('reference').notNull(),
    createdAtMs: createdAtMs(),
    endedAtMs: integer('ended_at_ms'),
  },
  (table) => [
    uniqueIndex('coupons_tenant_reference').on(table.tenantId, table.reference),
    index('coupons_tenant').on(table.tenantId),
  ],
);

/**
 * Ledger accounts with running totals, TigerBeetle-style. Tenant-facing accounts (wallets and
 * coupons) may never go below zero, holds included: the CHECK is the last line of defence behind
 * the guarded updates.
 */
export const accounts = sqliteTable(
  'accounts',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    ownerId: text('owner_id'),
    noOverdraft: integer('no_overdraft', { mode: 'boolean' }).notNull(),
    debitsPosted: money('debits_posted').notNull(),
    creditsPosted: money('credits_posted').notNull(),
    debitsPending: money('debits_pending').notNull(),
    creditsPending: money('credits_pending').notNull(),
  },
  (table) => [
    check(
      'accounts_no_overdraft',
      sql`${table.noOverdraft} = 0 OR ${table.creditsPosted} - ${table.debitsPosted} - ${table.debitsPending} >= 0`,
    ),
    index('accounts_owner').on(table.ownerId),
  ],
);

/**
 * The ledger transactions kept in full, one row each: every movement but a request's own reserve,
 * settle and release, which are derived from its reservation and usage record (the lean journal,
 * migration 'lean_journal'). The view `ledger_transactions` shows both, as one table; its
 * idempotency key makes every money movement happen once (a request's keys are unique through
 * the request id of its reservation and of its usage record).
 */
export const ledgerTransactions = sqliteTable(
  'journal_transactions',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    idempotencyKey: text('idempotency_key').notNull(),
    kind: text('kind').notNull(),
    tenantId: text('tenant_id'),
    requestId: text('request_id'),
    reference: text('reference'),
    amount: money('amount').notNull(),
    createdAtMs: createdAtMs(),
    /** The provider a payout pays; NULL on every other transaction. */
    providerId: text('provider_id'),
    /** What the operator wrote of a transaction it made by hand (an adjustment's reason). */
    memo: text('memo'),
  },
  (table) => [
    uniqueIndex('ledger_transactions_idempotency_key').on(table.idempotencyKey),
    // A tenant's entries are found through its transactions; transfers carry no account index
    // because every one of them would be two more b-tree writes on the hottest table.
    index('ledger_transactions_tenant').on(table.tenantId),
    // Partial: only payouts name a provider, so requests never write to this b-tree.
    index('ledger_transactions_provider')
      .on(table.providerId)
      .where(sql`${table.providerId} IS NOT NULL`),
  ],
);

/**
 * Transfers kept in full (those of journal_transactions): each debits one account and credits
 * another by the same amount, so every transaction balances by construction. A `pending`
 * transfer is a hold; it is resolved by one later `post_pending` (posting up to its amount) or
 * `void_pending` transfer naming it. The view `transfers` adds those derived from the lean
 * records: a reservation's legs (its holds) and a usage record's transfers.
 */
export const transfers = sqliteTable(
  'journal_transfers',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    transactionId: integer('transaction_id')
      .notNull()
      .references(() => ledgerTransactions.id),
    debitAccountId: text('debit_account_id').notNull(),
    creditAccountId: text('credit_account_id').notNull(),
    amount: money('amount').notNull(),
    flag: text('flag', { enum: transferFlags }).notNull(),
    pendingId: integer('pending_id'),
    createdAtMs: createdAtMs(),
  },
  (table) => [
    index('transfers_transaction').on(table.transactionId),
    // Partial: only resolutions name a hold, and the other rows then skip this b-tree entirely.
    uniqueIndex('transfers_pending_resolution')
      .on(table.pendingId)
      .where(sql`${table.pendingId} IS NOT NULL`),
    check('transfers_positive', sql`${table.amount} > 0`),
  ],
);

/**
 * The ids a request's derived transaction and transfers take, from the same sequences as the rows
 * kept in full (NULL on rows written before the lean journal, and on a refused request's record).
 */
function requestJournalColumns() {
  return {
    transactionId: integer('transaction_id'),
    /** Its first transfer's id; the others follow one by one, in the order they were made. */
    firstTransferId: integer('first_transfer_id'),
  };
}

/**
 * The last ids handed out to ledger transactions and transfers, both those kept in full and
 * those derived from the lean records: one row, written once per commit.
 */
export const journalIds = sqliteTable(
  'journal_ids',
  {
    id: integer('id').primaryKey(),
    lastTransactionId: integer('last_transaction_id').notNull(),
    lastTransferId: integer('last_transfer_id').notNull(),
  },
  (table) => [check('journal_ids_one_row', sql`${table.id} = 1`)],
);

/**
 * A request admitted with a hold on the tenant's money, until it settles or is released. It
 * carries its `reserve:` transaction and its holds (the lean journal).
 */
export const reservations = sqliteTable(
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
    checkpointAtMs: integer('checkpoint_at_ms'),
    admittedAtMs: integer('admitted_at_ms').notNull(),
    endedAtMs: integer('ended_at_ms'),
    ...requestJournalColumns(),
    /** The holds, `[[debit account, amount], ...]`, each crediting `holds` (NULL before the lean journal). */
    legs: text('legs'),
  },
  // Only open reservations are looked up by status (the sweep, the open-holds gauge): the index
  // holds just those, so ending a request deletes its entry instead of moving it, and the index
  // stays as small as the requests in flight.
  (table) => [
    index('reservations_open').on(table.admittedAtMs).where(sql`${table.status} = 'reserved'`),
  ],
);

/**
 * What each request used and paid: the tenant's statement and the provider's earnings. Once it
 * ended it is also the settlement record: it carries its `settle:` or `release:` transaction.
 */
export const usageRecords = sqliteTable(
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
    lines: text('lines', { mode: 'json' }).$type<StoredLine[]>().notNull().default(sql`'[]'`),
    paidBy: text('paid_by', { mode: 'json' }).$type<StoredPayer[]>().notNull(),
    priceId: text('price_id'),
    /** The card-hour lease that served it (not token-billed); NULL otherwise. */
    leaseId: text('lease_id'),
    /** The gateway's own recount of the output, for the sampled requests that were verified. */
    verifiedOutputTokens: integer('verified_output_tokens'),
    /** What the backend claimed when its claim exceeded the bound (DESIGN.md §4); NULL otherwise. */
    claimedInputTokens: integer('claimed_input_tokens'),
    claimedOutputTokens: integer('claimed_output_tokens'),
    createdAtMs: createdAtMs(),
    settledAtMs: integer('settled_at_ms').notNull(),
    ...requestJournalColumns(),
    /** `settle` or `release`: the kind of the transaction this record carries. */
    transactionKind: text('transaction_kind'),
    /** Its transfers, `[[debit, credit, amount, flag, pending transfer id], ...]`. */
    transfers: text('transfers'),
  },
  (table) => [
    index('usage_records_tenant_time').on(table.tenantId, table.createdAtMs),
    index('usage_records_provider_time').on(table.providerId, table.createdAtMs),
    // A period's records in time order (a program's statement), without reading the others.
    index('usage_records_time').on(table.createdAtMs, table.requestId),
  ],
);

/**
 * Per tenant and UTC day, the sum of its usage records (rejected requests left out), so reading
 * today's usage is one row, never a scan. Maintained only by the AFTER INSERT trigger on
 * usage_records (migration 'usage_daily'), in the transaction that inserts the record.
 */
export const usageDaily = sqliteTable(
  'usage_daily',
  {
    tenantId: text('tenant_id').notNull(),
    /** Days since 1970-01-01 UTC: created_at_ms / 86,400,000, rounded down. */
    day: integer('day').notNull(),
    requests: integer('requests').notNull(),
    inputTokens: integer('input_tokens').notNull(),
    cachedInputTokens: integer('cached_input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
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
export const leases = sqliteTable(
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
    startsAtMs: integer('starts_at_ms').notNull(),
    endsAtMs: integer('ends_at_ms').notNull(),
    /** What paid the charge, as the end's refund returns it; NULL until it was paid. */
    paidBy: text('paid_by', { mode: 'json' }).$type<StoredPayer[]>(),
    paidAtMs: integer('paid_at_ms'),
    endedAtMs: integer('ended_at_ms'),
    settledAtMs: integer('settled_at_ms'),
    createdAtMs: createdAtMs(),
  },
  (table) => [index('leases_tenant').on(table.tenantId), index('leases_ends').on(table.endsAtMs)],
);

/** The backends of a lease, each with the accelerators it brings and when it was seen failed. */
export const leaseBackends = sqliteTable(
  'lease_backends',
  {
    leaseId: text('lease_id')
      .notNull()
      .references(() => leases.id),
    backendId: text('backend_id').notNull(),
    providerId: text('provider_id').notNull(),
    accelerators: integer('accelerators').notNull(),
    /** When the lease job first found it unhealthy or gone; NULL while it serves. */
    failedAtMs: integer('failed_at_ms'),
  },
  (table) => [
    primaryKey({ columns: [table.leaseId, table.backendId] }),
    index('lease_backends_backend').on(table.backendId),
  ],
);

/** Gateway processes alive on this store: a hold whose owner stopped beating is swept. */
export const gatewayInstances = sqliteTable('gateway_instances', {
  id: text('id').primaryKey(),
  startedAtMs: integer('started_at_ms').notNull(),
  heartbeatAtMs: integer('heartbeat_at_ms').notNull(),
});

/**
 * Job leases on Workers (runtime/workers/durable-job-lease.ts): which Cron Trigger invocation runs
 * the elected jobs (the batch scheduler, storage ticks) until `expires_at_ms`, taken by one
 * conditional upsert. PostgreSQL elects with an advisory lock and SQLite has one process, so
 * neither writes here.
 */
export const jobLeases = sqliteTable('job_leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAtMs: integer('expires_at_ms').notNull(),
});

/**
 * The audit log: one row per admin or provider write, appended and never changed (triggers in
 * the migration refuse UPDATE and DELETE). `before` and `after` are the API views of the entity,
 * with every secret field removed before they are stored.
 */
export const auditEvents = sqliteTable(
  'audit_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    atMs: integer('at_ms').notNull(),
    /** `admin:{first 12 hex of the token's SHA-256}` or `provider:{provider id}`. */
    actor: text('actor').notNull(),
    /** `tenant.create`, `key.revoke`, `topup.create`, `backend.update`, ... */
    action: text('action').notNull(),
    entityType: text('entity_type').notNull(),
    entityId: text('entity_id'),
    tenantId: text('tenant_id'),
    requestId: text('request_id').notNull(),
    before: text('before', { mode: 'json' }).$type<unknown>(),
    after: text('after', { mode: 'json' }).$type<unknown>(),
  },
  (table) => [
    index('audit_events_entity').on(table.entityId),
    index('audit_events_tenant').on(table.tenantId),
  ],
);

/**
 * A batch of requests run when capacity is spare and prices are low (the Batch API). Its lines are
 * in batch_lines; the counters and totals here move in the same transaction as the line that
 * changes them, so the batch object never disagrees with its lines.
 */
export const batches = sqliteTable(
  'batches',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    keyId: text('key_id').notNull(),
    endpoint: text('endpoint', { enum: batchEndpoints }).notNull(),
    inputFileId: text('input_file_id').notNull(),
    completionWindow: text('completion_window').notNull(),
    status: text('status', { enum: batchStatuses }).notNull(),
    metadata: text('metadata', { mode: 'json' }).$type<Record<string, string>>(),
    /** Why validation failed: OpenAI's `errors.data`. */
    errors: text('errors', { mode: 'json' }).$type<BatchErrorItem[]>(),
    outputFileId: text('output_file_id'),
    errorFileId: text('error_file_id'),
    requestTotal: integer('request_total').notNull(),
    requestCompleted: integer('request_completed').notNull(),
    requestFailed: integer('request_failed').notNull(),
    inputTokens: integer('input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
    cost: money('cost').notNull(),
    createdAtMs: createdAtMs(),
    expiresAtMs: integer('expires_at_ms').notNull(),
    inProgressAtMs: integer('in_progress_at_ms'),
    finalizingAtMs: integer('finalizing_at_ms'),
    completedAtMs: integer('completed_at_ms'),
    failedAtMs: integer('failed_at_ms'),
    expiredAtMs: integer('expired_at_ms'),
    cancellingAtMs: integer('cancelling_at_ms'),
    cancelledAtMs: integer('cancelled_at_ms'),
  },
  (table) => [
    index('batches_tenant_time').on(table.tenantId, table.createdAtMs),
    index('batches_status').on(table.status),
  ],
);

/**
 * One request of a batch. Its request id is `{batch id}:{custom_id}`, unique, so a line is
 * reserved and settled at most once whatever happens to the gateway running it. `result` is the
 * line of the output or error file, written once when the line ends.
 */
export const batchLines = sqliteTable(
  'batch_lines',
  {
    batchId: text('batch_id').notNull(),
    lineIndex: integer('line_index').notNull(),
    customId: text('custom_id').notNull(),
    model: text('model').notNull(),
    body: text('body', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: batchLineStatuses }).notNull(),
    /** The gateway that sent it, while it runs: a line of a gateway that died is not run again. */
    runnerInstanceId: text('runner_instance_id'),
    startedAtMs: integer('started_at_ms'),
    endedAtMs: integer('ended_at_ms'),
    result: text('result', { mode: 'json' }).$type<StoredLineResult>(),
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
 * The files of the Files API (db/file-store.ts): batch inputs a tenant uploads and the outputs
 * the batch runner writes. The Node gateway keeps the bytes here; on Workers they are in an R2
 * bucket under the file's id and `content` is NULL (a Durable Object's row holds ~2 MB at most).
 * Every read names the tenant.
 */
export const files = sqliteTable(
  'files',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    filename: text('filename').notNull(),
    purpose: text('purpose', { enum: filePurposes }).notNull(),
    bytes: integer('bytes').notNull(),
    createdAtMs: createdAtMs(),
    /** NULL when the bytes are in an object store (R2 on Workers). */
    content: binary('content'),
  },
  (table) => [
    index('files_tenant_time').on(table.tenantId, table.createdAtMs),
    // What the storage meter charges is what is stored, byte for byte (here, or in the object store).
    check(
      'files_bytes_of_content',
      sql`${table.content} IS NULL OR ${table.bytes} = length(${table.content})`,
    ),
  ],
);

/**
 * Payouts on Cloudflare Workers, kept in the provider's own Durable Object
 * (runtime/workers/provider-payout-object.ts): what a provider is owed is spread over the
 * tenants' objects, so a payout is planned here first, with the part each tenant's object pays,
 * and completed once every part moved. The Node stores pay out in one transaction and leave
 * these tables empty.
 */
export const payoutPlans = sqliteTable(
  'payout_plans',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    providerId: text('provider_id').notNull(),
    reference: text('reference').notNull(),
    amount: money('amount').notNull(),
    note: text('note'),
    createdAtMs: createdAtMs(),
    /** NULL until every part moved: a retry or the object's alarm completes it. */
    completedAtMs: integer('completed_at_ms'),
  },
  (table) => [
    // A payout happens once per reference.
    uniqueIndex('payout_plans_reference').on(table.providerId, table.reference),
    check('payout_plans_amount_positive', sql`${table.amount} > 0`),
  ],
);

/** The part of a planned payout one tenant's object pays from what it owes the provider. */
export const payoutPlanParts = sqliteTable(
  'payout_plan_parts',
  {
    planId: integer('plan_id')
      .notNull()
      .references(() => payoutPlans.id),
    tenantId: text('tenant_id').notNull(),
    amount: money('amount').notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.planId, table.tenantId] }),
    check('payout_plan_parts_amount_positive', sql`${table.amount} > 0`),
  ],
);
