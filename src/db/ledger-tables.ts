/**
 * The ledger's tables, each column listed once (see ledger-column.ts): the SQLite and PostgreSQL
 * stores insert, select and decode their rows from these lists, and ledger-tables.test.ts holds
 * each list against both drizzle schemas, column for column. Property names are the ones the
 * ledger's row types use (amounts end in Micro).
 */
import {
  couponKinds,
  couponStatuses,
  reservationStatuses,
  type StoredLine,
  type StoredPayer,
  transferFlags,
  usageOutcomes,
  usageSources,
} from './enums.ts';
import {
  boolean,
  epochMs,
  integer,
  json,
  money,
  nullable,
  oneOf,
  rowId,
  text,
} from './ledger-column.ts';

export const accountColumns = {
  id: text('id'),
  kind: text('kind'),
  ownerId: nullable(text('owner_id')),
  noOverdraft: boolean('no_overdraft'),
  debitsPosted: money('debits_posted'),
  creditsPosted: money('credits_posted'),
  debitsPending: money('debits_pending'),
  creditsPending: money('credits_pending'),
} as const;

export const couponColumns = {
  id: text('id'),
  tenantId: text('tenant_id'),
  kind: oneOf('kind', couponKinds),
  program: text('program'),
  amountMicro: money('amount'),
  coverageBps: integer('coverage_bps'),
  models: nullable(json<string[]>('models')),
  regions: nullable(json<string[]>('regions')),
  priority: integer('priority'),
  startsAtMs: epochMs('starts_at_ms'),
  expiresAtMs: nullable(epochMs('expires_at_ms')),
  status: oneOf('status', couponStatuses),
  reference: text('reference'),
  createdAtMs: epochMs('created_at_ms'),
  endedAtMs: nullable(epochMs('ended_at_ms')),
} as const;

export const ledgerTransactionColumns = {
  id: rowId('id'),
  idempotencyKey: text('idempotency_key'),
  kind: text('kind'),
  tenantId: nullable(text('tenant_id')),
  requestId: nullable(text('request_id')),
  reference: nullable(text('reference')),
  amountMicro: money('amount'),
  createdAtMs: epochMs('created_at_ms'),
  providerId: nullable(text('provider_id')),
  memo: nullable(text('memo')),
} as const;

export const transferColumns = {
  id: rowId('id'),
  transactionId: rowId('transaction_id'),
  debitAccountId: text('debit_account_id'),
  creditAccountId: text('credit_account_id'),
  amount: money('amount'),
  flag: oneOf('flag', transferFlags),
  pendingId: nullable(rowId('pending_id')),
  createdAtMs: epochMs('created_at_ms'),
} as const;

export const reservationColumns = {
  requestId: text('request_id'),
  tenantId: text('tenant_id'),
  keyId: text('key_id'),
  model: text('model'),
  region: text('region'),
  priceId: text('price_id'),
  multiplierBps: integer('multiplier_bps'),
  reservedAmount: money('reserved_amount'),
  status: oneOf('status', reservationStatuses),
  instanceId: text('instance_id'),
  backendId: nullable(text('backend_id')),
  promptTokensEstimate: integer('prompt_tokens_estimate'),
  checkpointInputTokens: nullable(integer('checkpoint_input_tokens')),
  checkpointOutputTokens: nullable(integer('checkpoint_output_tokens')),
  checkpointAtMs: nullable(epochMs('checkpoint_at_ms')),
  admittedAtMs: epochMs('admitted_at_ms'),
  endedAtMs: nullable(epochMs('ended_at_ms')),
} as const;

export const usageRecordColumns = {
  requestId: text('request_id'),
  tenantId: text('tenant_id'),
  keyId: text('key_id'),
  model: text('model'),
  region: nullable(text('region')),
  backendId: nullable(text('backend_id')),
  providerId: nullable(text('provider_id')),
  inputTokens: nullable(integer('input_tokens')),
  cachedInputTokens: nullable(integer('cached_input_tokens')),
  outputTokens: nullable(integer('output_tokens')),
  reasoningTokens: nullable(integer('reasoning_tokens')),
  usageSource: nullable(oneOf('usage_source', usageSources)),
  outcome: oneOf('outcome', usageOutcomes),
  costMicro: money('cost'),
  providerShareMicro: money('provider_share'),
  lines: json<StoredLine[]>('lines'),
  paidBy: json<StoredPayer[]>('paid_by'),
  priceId: nullable(text('price_id')),
  leaseId: nullable(text('lease_id')),
  verifiedOutputTokens: nullable(integer('verified_output_tokens')),
  claimedInputTokens: nullable(integer('claimed_input_tokens')),
  claimedOutputTokens: nullable(integer('claimed_output_tokens')),
  createdAtMs: epochMs('created_at_ms'),
  settledAtMs: epochMs('settled_at_ms'),
} as const;

/**
 * The lean journal's columns, SQLite only (DESIGN.md §4): a reservation carries its `reserve:`
 * transaction and holds, a usage record its `settle:` or `release:` transaction and transfers, so
 * a request writes two rows; the views `ledger_transactions` and `transfers` derive the rest.
 */
const requestJournalColumns = {
  transactionId: nullable(rowId('transaction_id')),
  firstTransferId: nullable(rowId('first_transfer_id')),
} as const;

export const reservationJournalColumns = {
  ...requestJournalColumns,
  legs: nullable(text('legs')),
} as const;

export const usageJournalColumns = {
  ...requestJournalColumns,
  transactionKind: nullable(text('transaction_kind')),
  transfers: nullable(text('transfers')),
} as const;

/** The SQLite tables that carry lean journal columns after the shared ones. */
export const sqliteJournalColumns = {
  reservations: reservationJournalColumns,
  usage_records: usageJournalColumns,
} as const;

/** Each ledger table by its SQL name. */
export const ledgerTables = {
  accounts: accountColumns,
  coupons: couponColumns,
  ledger_transactions: ledgerTransactionColumns,
  transfers: transferColumns,
  reservations: reservationColumns,
  usage_records: usageRecordColumns,
} as const;
