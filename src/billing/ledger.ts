/**
 * The Ledger port: every movement of money, each one balanced, atomic and idempotent. Stores
 * (SQLite now, PostgreSQL for several replicas) implement it with the pure waterfall and cost
 * functions of this folder, so they differ only in how they make a transaction atomic.
 */
import type { BilledTokens, PinnedPrice } from './cost.ts';
import type {
  LeaseChargeInput,
  LeaseChargeResult,
  LeaseEndInput,
  LeaseEndResult,
} from './lease-operation.ts';
import type { MeterLine, StoredMeterLine } from './meters.ts';
import type { ProgramListing, ProgramSummary } from './program-statement.ts';
import type { StorageChargeInput, StorageChargeResult } from './storage-operation.ts';
import type { CouponKind } from './waterfall.ts';

/** A reference reused for a different movement: the caller must not be told it succeeded. */
export class LedgerConflictError extends Error {
  override name = 'LedgerConflictError';
}

/**
 * An operator's movement asked for more than the account it takes from holds (a payout beyond
 * what the provider is owed, a debit beyond the wallet's available balance): nothing moved.
 */
export class BalanceTooLowError extends Error {
  override name = 'BalanceTooLowError';

  constructor(
    message: string,
    readonly availableMicro: bigint,
  ) {
    super(message);
  }
}

export type UsageSource = 'provider' | 'gateway_count' | 'estimate';
export type UsageOutcome =
  | 'complete'
  | 'client_disconnect'
  | 'upstream_error'
  | 'gateway_crash'
  | 'rejected';

export type FinalUsage = BilledTokens & {
  reasoningTokens: number | undefined;
  source: UsageSource;
  /** What the backend claimed, when its claim exceeded the bound and was billed at the bound. */
  claimed?: { inputTokens: number; outputTokens: number } | undefined;
};

/** What paid: a coupon's kind, the wallet, or a write-off. */
export type PayerKind = CouponKind | 'wallet' | 'write_off';

export type PaidBy = {
  source: 'coupon' | 'wallet' | 'write_off';
  id: string | null;
  kind: PayerKind;
  amountMicro: bigint;
};

export type ReserveInput = {
  requestId: string;
  tenantId: string;
  keyId: string;
  model: string;
  /** The region of the backend chosen first; coupons scoped by region are judged by it. */
  region: string;
  price: PinnedPrice;
  promptTokensEstimate: number;
  /** The output the request may produce: its max_tokens, or the model's default cap. */
  outputTokensMax: number;
  /** The tenant lets the gateway lower max_tokens to what it can afford. */
  clampAllowed: boolean;
  atMs: number;
  instanceId: string;
  /** The transport line's estimate, when the request is served outside the home region. */
  transport?: TransportCharge | undefined;
};

/** Bytes carried between regions, at the price of the region pair pinned at admission. */
export type TransportCharge = { bytes: number; pricePerGbMicro: bigint };

export type ReserveResult =
  | { ok: true; reservedMicro: bigint; outputTokensMax: number; clamped: boolean }
  | { ok: false; affordableOutputTokens: number; neededMicro: bigint; availableMicro: bigint };

export type ServedBy = { backendId: string; providerId: string; region: string };

export type SettleInput = {
  requestId: string;
  usage: FinalUsage;
  outcome: UsageOutcome;
  servedBy: ServedBy;
  /** The pinned price of the region that served it (admission-time version). */
  price: PinnedPrice;
  atMs: number;
  /** The bytes carried between regions, when it was served outside the home region. */
  transport?: TransportCharge | undefined;
  /** The lessee's lease whose backend served it: its token lines are priced at zero. */
  leaseId?: string | undefined;
};

export type SettleResult = {
  costMicro: bigint;
  /** The lines of the charge; empty for a duplicate settle (the usage record keeps them). */
  lines: MeterLine[];
  paidBy: PaidBy[];
  /** The wallet's available balance right after. */
  walletAvailableMicro: bigint;
  /** True when this request had already been settled or released: nothing changed now. */
  duplicate: boolean;
};

export type ReleaseInput = {
  requestId: string;
  outcome: UsageOutcome;
  servedBy: ServedBy | undefined;
  atMs: number;
};

export type CheckpointInput = {
  requestId: string;
  /** The backend streaming it, so a sweep after a crash knows whom to pay. */
  backendId: string;
  inputTokens: number;
  outputTokens: number;
  atMs: number;
};

export type TopUpInput = { tenantId: string; amountMicro: bigint; reference: string; atMs: number };
export type TopUpResult = {
  transactionId: number;
  amountMicro: bigint;
  walletBalanceMicro: bigint;
  duplicate: boolean;
};

/** The terms of a coupon grant, as the admin gives them and the API shows them. */
export type CouponTerms = {
  id: string;
  tenantId: string;
  kind: CouponKind;
  program: string;
  amountMicro: bigint;
  coverageBps: number;
  models: string[] | null;
  regions: string[] | null;
  priority: number;
  startsAtMs: number;
  expiresAtMs: number | null;
  reference: string;
};

export type GrantInput = CouponTerms & { atMs: number };

export type CouponState = CouponTerms & {
  /** Available to new reservations: posted balance less holds. */
  remainingMicro: bigint;
  heldMicro: bigint;
  status: 'active' | 'voided' | 'expired';
  createdAtMs: number;
};

export type TenantMoney = {
  walletBalanceMicro: bigint;
  /** Money held for requests in flight, on the wallet and coupons together. */
  holdsMicro: bigint;
  coupons: CouponState[];
};

export type UsageRecord = {
  requestId: string;
  createdAtMs: number;
  tenantId: string;
  keyId: string;
  model: string;
  region: string | null;
  backendId: string | null;
  providerId: string | null;
  inputTokens: number | null;
  cachedInputTokens: number | null;
  outputTokens: number | null;
  reasoningTokens: number | null;
  usageSource: UsageSource | null;
  outcome: UsageOutcome;
  costMicro: bigint;
  /** The charge by meter; empty for a request that was not charged. */
  lines: StoredMeterLine[];
  paidBy: PaidBy[];
  /** The card-hour lease whose backend served it, not token-billed; null otherwise. */
  leaseId: string | null;
  verifiedOutputTokens: number | null;
  /** What the backend claimed beyond the bound the gateway billed; null when it claimed no more. */
  claimedInputTokens: number | null;
  claimedOutputTokens: number | null;
};

/** Money paid out to a provider from what it is owed (`provider_payable:{provider}` to cash). */
export type PayoutInput = {
  providerId: string;
  amountMicro: bigint;
  /** The operator's reference (a bank transfer id): a payout happens once per reference. */
  reference: string;
  note: string | null;
  atMs: number;
};

export type PayoutRecord = {
  transactionId: number;
  providerId: string;
  amountMicro: bigint;
  reference: string;
  note: string | null;
  createdAtMs: number;
};

export type PayoutResult = {
  payout: PayoutRecord;
  /** What the provider is still owed right after. */
  unpaidMicro: bigint;
  duplicate: boolean;
};

/** A provider's payable account: everything it earned, was paid, and is owed now. */
export type ProviderBalance = { earnedMicro: bigint; paidMicro: bigint; unpaidMicro: bigint };

/**
 * A credit to (amount above zero) or a debit from (below zero) a tenant's wallet by the operator,
 * with its reason; the other side is revenue (a refund gives back what was earned, a charge is
 * earned).
 */
export type AdjustmentInput = {
  tenantId: string;
  amountMicro: bigint;
  reason: string;
  reference: string;
  atMs: number;
};

export type AdjustmentRecord = {
  transactionId: number;
  tenantId: string;
  /** Signed: above zero credited the wallet, below zero debited it. */
  amountMicro: bigint;
  reason: string;
  reference: string;
  createdAtMs: number;
};

export type AdjustmentResult = {
  adjustment: AdjustmentRecord;
  walletBalanceMicro: bigint;
  duplicate: boolean;
};

export type LedgerEntry = {
  transactionId: number;
  kind: string;
  requestId: string | null;
  reference: string | null;
  debitAccountId: string;
  creditAccountId: string;
  amountMicro: bigint;
  flag: 'posted' | 'pending' | 'post_pending' | 'void_pending';
  createdAtMs: number;
};

export type LedgerCheck = {
  ok: boolean;
  problems: string[];
  accounts: number;
  transactions: number;
};

export type EarningsRow = {
  backendId: string;
  model: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  earnedMicro: bigint;
};

/** What a provider was credited when a lease its backends served was closed. */
export type LeaseEarningsRow = { leaseId: string; closedAtMs: number; earnedMicro: bigint };

export type ProgramStatementRow = {
  requestId: string;
  createdAtMs: number;
  tenantId: string;
  couponId: string;
  model: string;
  providerId: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  amountMicro: bigint;
};

export type TimeRange = { fromMs: number; toMs: number };

/** Where a page of usage records resumes: just after this record, in (created_at, request_id) order. */
export type UsageCursor = { createdAtMs: number; requestId: string };

export type UsagePage = { limit: number; after: UsageCursor | undefined };

/** A statement has a row per coupon that paid a request: the coupon id breaks the tie. */
export type StatementCursor = UsageCursor & { couponId: string };

export type StatementPage = { limit: number; after: StatementCursor | undefined };

export type Ledger = {
  reserve(input: ReserveInput): Promise<ReserveResult>;
  checkpoint(input: CheckpointInput): Promise<void>;
  settle(input: SettleInput): Promise<SettleResult>;
  release(input: ReleaseInput): Promise<void>;
  /** Records a request refused before any hold (it could not pay). */
  recordRejected(input: ReserveInput): Promise<void>;
  /** Records the gateway's own recount of a settled request's output, for a sampled request. */
  recordVerification(requestId: string, recountedOutputTokens: number): Promise<void>;

  topUp(input: TopUpInput): Promise<TopUpResult>;
  grantCoupon(input: GrantInput): Promise<{ coupon: CouponState; duplicate: boolean }>;
  voidCoupon(couponId: string, atMs: number): Promise<CouponState | undefined>;
  /** Moves the unreserved remainder of every grant expired by `atMs` to breakage, once. */
  expireCoupons(atMs: number): Promise<number>;
  /** Charges one storage tick of one tenant, once (storage-operation.ts). */
  chargeStorage(input: StorageChargeInput): Promise<StorageChargeResult>;
  /**
   * Charges a lease's whole term up front, once, or nothing when it cannot be paid; a repeated
   * charge reports the payers of the one recorded.
   */
  chargeLease(input: LeaseChargeInput): Promise<LeaseChargeResult>;
  /** Refunds a lease's undelivered hours and pays its providers their shares, once. */
  endLease(input: LeaseEndInput): Promise<LeaseEndResult>;

  /**
   * Settles (from the last checkpoint) or releases the holds of gateways silent since before
   * `ownerSilentBeforeMs`: a live gateway ends its own requests (it enforces their deadline), so
   * its holds are never swept however long they run. `overdue` names one live gateway whose
   * holds admitted before `admittedBeforeMs` are swept too: it ended those requests at their
   * deadline, so a hold still open past it is one whose settlement failed.
   */
  sweep(input: {
    atMs: number;
    ownerSilentBeforeMs: number;
    overdue: { instanceId: string; admittedBeforeMs: number };
  }): Promise<number>;
  heartbeat(instanceId: string, atMs: number): Promise<void>;

  tenantMoney(tenantId: string, atMs: number): Promise<TenantMoney>;
  coupon(couponId: string): Promise<CouponState | undefined>;
  /** In (created_at, request_id) order; one page of them when `page` is given, else all. */
  usage(tenantId: string, range: TimeRange, page?: UsagePage): Promise<UsageRecord[]>;
  /** The usage record of one request, once it ended; undefined while it runs or if it never ran. */
  usageOfRequest(requestId: string): Promise<UsageRecord | undefined>;
  /**
   * Who paid the transaction recorded under this key (one posted at once, like a lease's
   * charge): its posted transfers out of the tenant's wallet and coupons, one entry per payer in
   * the order they first paid; undefined when no transaction has that key.
   */
  transactionPayers(idempotencyKey: string): Promise<PaidBy[] | undefined>;
  entries(tenantId: string, limit: number): Promise<LedgerEntry[]>;
  earnings(providerId: string, range: TimeRange): Promise<EarningsRow[]>;
  /** The provider's shares of the leases closed in `range`, by lease id. */
  leaseEarnings(providerId: string, range: TimeRange): Promise<LeaseEarningsRow[]>;
  /**
   * Every charge the program's coupons paid, for one tenant or all, in (created_at, request_id,
   * coupon_id) order; one page of them when `page` is given.
   */
  programStatement(
    program: string,
    range: TimeRange,
    tenantId: string | undefined,
    page?: StatementPage,
  ): Promise<ProgramStatementRow[]>;
  /**
   * A subsidy program's statement over `range` (for one tenant when `tenantId` is given), from
   * the records and the ledger, reconciled; undefined when the program never granted a coupon.
   */
  programSummary(
    program: string,
    range: TimeRange,
    tenantId: string | undefined,
  ): Promise<ProgramSummary | undefined>;
  /** Every program that granted a coupon, with its coupons and their face value per kind. */
  programs(): Promise<ProgramListing[]>;
  check(): Promise<LedgerCheck>;

  /** Refuses (BalanceTooLowError) a payout beyond what the provider is owed. */
  payout(input: PayoutInput): Promise<PayoutResult>;
  /** The newest `limit`, newest first. */
  payouts(providerId: string, limit: number): Promise<PayoutRecord[]>;
  providerBalance(providerId: string): Promise<ProviderBalance>;
  /** What the provider was paid out in `range`. */
  paidOut(providerId: string, range: TimeRange): Promise<bigint>;
  /** Refuses (BalanceTooLowError) a debit beyond the wallet's available balance. */
  adjust(input: AdjustmentInput): Promise<AdjustmentResult>;
  /** The newest `limit`, newest first. */
  adjustments(tenantId: string, limit: number): Promise<AdjustmentRecord[]>;
};

/** What a ledger answers without moving money: every store implements these reads together. */
export type LedgerReads = Pick<
  Ledger,
  | 'tenantMoney'
  | 'coupon'
  | 'usage'
  | 'usageOfRequest'
  | 'transactionPayers'
  | 'entries'
  | 'earnings'
  | 'leaseEarnings'
  | 'programStatement'
  | 'programSummary'
  | 'programs'
  | 'check'
  | 'payouts'
  | 'providerBalance'
  | 'paidOut'
  | 'adjustments'
>;
