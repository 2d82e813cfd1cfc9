/**
 * The LedgerUnit port: one atomic unit of ledger work as the shared operations (reserve-,
 * settle-, grant-, payout- and adjustment-operation.ts) see it. Its reads and writes are synchronous and all happen
 * inside one store transaction, so an operation is written once and runs on any store:
 * - SQLite answers each call with a prepared statement inside its IMMEDIATE transaction;
 * - PostgreSQL loads what the operation will read (the tenant's accounts locked first), answers
 *   from memory, and writes the journal of changes at the end, in one transaction.
 * Every balance change goes through post, hold or resolve, which refuse to overdraw a guarded
 * account (InsufficientFundsError): the store's own guarded UPDATE stands behind them.
 */
import type { CouponState, CouponTerms, PaidBy, UsageRecord } from './ledger.ts';
import type { AccountKind } from './ledger-accounts.ts';
import type { FundedGrant } from './waterfall.ts';

/** A coupon with its terms, its state and what it may still pay. */
export type FundedCoupon = CouponState & FundedGrant;

export type ReservationRow = {
  requestId: string;
  tenantId: string;
  keyId: string;
  model: string;
  region: string;
  priceId: string;
  multiplierBps: number;
  reservedAmount: bigint;
  status: 'reserved' | 'settled' | 'released';
  instanceId: string;
  backendId: string | null;
  promptTokensEstimate: number;
  checkpointInputTokens: number | null;
  checkpointOutputTokens: number | null;
  admittedAtMs: number;
};

export type NewReservationRow = Omit<
  ReservationRow,
  'status' | 'backendId' | 'checkpointInputTokens' | 'checkpointOutputTokens'
>;

/** A usage record as written: what the API shows, plus the provider's share and the price. */
export type UsageRow = Omit<UsageRecord, 'verifiedOutputTokens'> & {
  providerShareMicro: bigint;
  priceId: string | null;
  settledAtMs: number;
};

/** A hold (pending transfer) not yet posted or voided. */
export type PendingTransfer = {
  id: number;
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
};

export type TransactionFields = {
  idempotencyKey: string;
  kind: string;
  tenantId: string | null;
  requestId: string | null;
  reference: string | null;
  amountMicro: bigint;
  atMs: number;
  /** The provider a payout pays. */
  providerId?: string;
  /** What the operator wrote of a movement it made by hand (an adjustment's reason). */
  memo?: string;
};

export type RecordedTransaction = {
  id: number;
  amountMicro: bigint;
  kind: string;
  reference: string | null;
};

/** A movement the operator made (a payout, an adjustment), as recorded. */
export type OperatorTransaction = RecordedTransaction & {
  reference: string | null;
  memo: string | null;
  createdAtMs: number;
};

export type PriceTerms = {
  inputPerMillion: bigint;
  cachedInputPerMillion: bigint;
  outputPerMillion: bigint;
};

export type BackendPlacement = { providerId: string; region: string };

export type LedgerUnit = {
  /** The wallet's posted balance less its holds; the wallet account exists afterwards. */
  walletAvailableMicro(tenantId: string): bigint;
  /** The tenant's coupons, oldest first (created, then id). */
  couponsOfTenant(tenantId: string): FundedCoupon[];
  coupon(couponId: string): FundedCoupon | undefined;
  couponByReference(tenantId: string, reference: string): FundedCoupon | undefined;
  reservation(requestId: string): ReservationRow | undefined;
  transaction(idempotencyKey: string): RecordedTransaction | undefined;
  /** The holds of a transaction that no later transfer has posted or voided, oldest first. */
  openHoldsOf(transactionId: number): PendingTransfer[];
  usageCostAndPayment(requestId: string): { costMicro: bigint; paidBy: PaidBy[] } | undefined;
  /** The operator's transaction recorded under this key, with its reference, memo and time. */
  operatorTransaction(idempotencyKey: string): OperatorTransaction | undefined;
  /**
   * The provider's payout rate in force at `atMs` (its newest version effective by then, else
   * the rate it was created with); undefined for an unknown provider.
   */
  providerPayoutBps(providerId: string, atMs: number): number | undefined;
  /** What the provider is owed: its payable account's posted balance (0 before it earned). */
  payableMicro(providerId: string): bigint;
  backendPlacement(backendId: string): BackendPlacement | undefined;
  priceTerms(priceId: string): PriceTerms | undefined;

  ensureAccount(id: string, kind: AccountKind, ownerId: string | null): void;
  /** Records a transaction under its idempotency key (unique); returns its id. */
  insertTransaction(fields: TransactionFields): number;
  /** Moves money at once. */
  post(
    transactionId: number,
    debitId: string,
    creditId: string,
    amount: bigint,
    atMs: number,
  ): void;
  /** Holds money: pending on both sides until resolved. */
  hold(
    transactionId: number,
    debitId: string,
    creditId: string,
    amount: bigint,
    atMs: number,
  ): void;
  /** Posts `postAmount` (at most the hold) of a hold and frees the rest. */
  resolve(transactionId: number, pending: PendingTransfer, postAmount: bigint, atMs: number): void;
  insertCoupon(coupon: CouponTerms & { createdAtMs: number }): void;
  /** Ends an active grant; false when it had already ended. */
  endCoupon(couponId: string, status: 'voided' | 'expired', atMs: number): boolean;
  insertReservation(row: NewReservationRow): void;
  /** Ends a reservation once; false when it had already ended. */
  endReservation(requestId: string, status: 'settled' | 'released', atMs: number): boolean;
  insertUsage(row: UsageRow): void;
};
