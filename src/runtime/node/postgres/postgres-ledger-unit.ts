/**
 * The LedgerUnit of the PostgreSQL ledger: one transaction on one connection, in three phases.
 * 1. Load, locking first (postgres-ledger-loads.ts): the tenant's wallet row (the tenant's lock:
 *    every operation on a tenant's money takes it first, so they run one at a time per tenant
 *    across replicas), then the tenant's coupon accounts in id order, then the rows the
 *    operation will read; all of it one pipelined round trip, in that order. A payout, which has
 *    no tenant, locks the shared accounts it reads (cash, the provider's payable) instead.
 * 2. Run the shared operation against memory: reads answer from what was loaded, writes go to a
 *    journal, and post/hold refuse to overdraw a guarded account.
 * 3. Flush the journal and commit (postgres-ledger-journal.ts): new accounts, transactions and
 *    transfers (in order), every balance change as one guarded UPDATE (`... WHERE available >= 0
 *    after the change`), the shared accounts locked in id order first, rows of coupons,
 *    reservations and usage, and the COMMIT; one more round trip.
 * A group of operations (postgres-group-commit.ts) shares one unit: it locks the wallets of all
 * their tenants in id order, then those tenants' coupons, and runs the operations one after the
 * other, each seeing the ones before; one that throws is undone back to a mark (phase 2 only).
 * Lock order is always: wallets by id, their coupons by id, shared accounts by id (a lone
 * operation has one wallet). A coupon is only locked by whoever holds its tenant's wallet, so no
 * two units wait on each other in opposite orders and none deadlocks; the retry of
 * postgres-transaction.ts stands behind that.
 */
import type pg from 'pg';
import { assert } from '../../../assert.ts';
import type { CouponTerms, PaidBy } from '../../../billing/ledger.ts';
import {
  type AccountKind,
  accountIds,
  guardedAccountKinds,
  InsufficientFundsError,
} from '../../../billing/ledger-accounts.ts';
import type {
  BackendPlacement,
  FundedCoupon,
  LedgerUnit,
  NewReservationRow,
  OperatorTransaction,
  PendingTransfer,
  PriceTerms,
  RecordedTransaction,
  ReservationRow,
  TransactionFields,
  UsageRow,
} from '../../../billing/ledger-unit.ts';
import { type PayoutSchedule, payoutBpsAt } from '../../../billing/payout-rates.ts';
import { reservationOf } from '../../ledger-row-codecs.ts';
import { type LedgerJournal, writeLedgerJournal } from './postgres-ledger-journal.ts';
import {
  type Balances,
  backendPlacementOf,
  backendStatement,
  balancesOf,
  holdingTransactionOf,
  lockCouponsOfTenantsStatement,
  lockCouponsStatement,
  lockSharedAccountsStatement,
  lockWalletStatement,
  lockWalletsStatement,
  operatorTransactionOf,
  operatorTransactionStatement,
  orphanStatement,
  payoutScheduleOf,
  payoutStatement,
  pendingTransferOf,
  priceStatement,
  priceTermsOf,
  recordedTransactionOf,
  reservationsHoldsStatement,
  reservationsStatement,
  type TenantLock,
  transactionHoldsStatement,
  transactionStatement,
  type UnitReads,
  usageCostStatement,
} from './postgres-ledger-loads.ts';
import {
  type CouponRecord,
  couponRecordOf,
  fundedCouponOf,
  moneyOf,
  paidByOf,
  type Row,
  textOf,
} from './postgres-ledger-rows.ts';
import { runPipelined } from './postgres-pipeline.ts';
import type { TransactionSteps } from './postgres-transaction.ts';

type AccountEntry = {
  id: string;
  guarded: boolean;
  /** The balances read under lock; undefined for a shared account, which is only written. */
  base: Balances | undefined;
  delta: Balances;
};

/** One statement of a load and where its rows go. */
type LoadStep = { statement: pg.QueryConfig; take(rows: Row[]): void };

const zero = (): Balances => ({
  debitsPosted: 0n,
  creditsPosted: 0n,
  debitsPending: 0n,
  creditsPending: 0n,
});

function isGuardedAccountId(id: string): boolean {
  return id.startsWith('wallet:') || id.startsWith('coupon:');
}

/** Looks a key up in a map of loaded rows (null = loaded and absent); asserts it was loaded. */
function loaded<Value>(
  map: Map<string, Value | null>,
  key: string,
  what: string,
): Value | undefined {
  assert(map.has(key), `${what} ${key} was not loaded before the operation read it`);
  return map.get(key) ?? undefined;
}

/** See PostgresLedgerUnit.mark. */
export type UnitMark = {
  accounts: Map<string, AccountEntry>;
  accountsToCreate: Map<string, { kind: AccountKind; ownerId: string | null; guarded: boolean }>;
  coupons: Map<string, CouponRecord>;
  reservations: Map<string, ReservationRow | null>;
  transactions: Map<string, RecordedTransaction | null>;
  openHolds: Map<number, PendingTransfer[]>;
  usageCosts: Map<string, { costMicro: bigint; paidBy: PaidBy[] } | null>;
  journalLengths: Record<string, number>;
};

function restore<Key, Value>(map: Map<Key, Value>, saved: ReadonlyMap<Key, Value>): void {
  map.clear();
  for (const [key, value] of saved) {
    map.set(key, value);
  }
}

export class PostgresLedgerUnit implements LedgerUnit {
  readonly #client: pg.PoolClient;
  /** Shared accounts this process knows exist: ensuring one of them writes nothing. */
  readonly #knownAccountIds: ReadonlySet<string>;
  readonly #accounts = new Map<string, AccountEntry>();
  readonly #accountsToCreate = new Map<
    string,
    { kind: AccountKind; ownerId: string | null; guarded: boolean }
  >();
  readonly #coupons = new Map<string, CouponRecord>();
  readonly #reservations = new Map<string, ReservationRow | null>();
  readonly #transactions = new Map<string, RecordedTransaction | null>();
  readonly #openHolds = new Map<number, PendingTransfer[]>();
  readonly #usageCosts = new Map<string, { costMicro: bigint; paidBy: PaidBy[] } | null>();
  readonly #payouts = new Map<string, PayoutSchedule | null>();
  readonly #operatorTransactions = new Map<string, OperatorTransaction | null>();
  /** Shared accounts loaded (and locked) for reading; the absent ones stay out of #accounts. */
  readonly #readableShared = new Set<string>();
  readonly #backends = new Map<string, BackendPlacement | null>();
  readonly #prices = new Map<string, PriceTerms | null>();
  readonly #lockedTenants = new Set<string>();
  readonly #journal: Omit<LedgerJournal, 'accountsToCreate' | 'balanceChanges'> = {
    transactions: [],
    transfers: [],
    couponInserts: [],
    couponEnds: [],
    reservationInserts: [],
    reservationEnds: [],
    usageInserts: [],
  };

  constructor(client: pg.PoolClient, knownAccountIds: ReadonlySet<string>) {
    this.#client = client;
    this.#knownAccountIds = knownAccountIds;
  }

  // ---- Phase 1: load, locking the tenant first --------------------------------------------

  /**
   * One round trip: locks the tenant when `lock` names one (its wallet, then its coupons by id),
   * then reads `reads`. Resolves with the tenant locked, or undefined when a lock through a
   * reservation found none (no such request).
   */
  async load(lock: TenantLock | undefined, reads: UnitReads): Promise<string | undefined> {
    let lockedTenantId: string | undefined;
    const steps: LoadStep[] = [];
    if (lock !== undefined) {
      steps.push(
        {
          statement: lockWalletStatement(lock),
          take: (rows) => {
            lockedTenantId = this.#takeWallet(lock, rows[0]);
          },
        },
        { statement: lockCouponsStatement(lock), take: (rows) => this.#takeCoupons(rows) },
      );
    }
    steps.push(...this.#readSteps(reads));
    await this.#runSteps(steps);
    return lockedTenantId;
  }

  /**
   * The load of a group of operations (postgres-group-commit.ts), in one round trip: the wallets
   * of every tenant named or reached through a request's reservation, locked in id order, then
   * their coupons, then what each operation reads (a provider's payout rates once).
   */
  async loadGroup(
    tenantIds: readonly string[],
    requestIds: readonly string[],
    reads: readonly UnitReads[],
  ): Promise<void> {
    const steps: LoadStep[] = [
      {
        statement: lockWalletsStatement(tenantIds, requestIds),
        take: (rows) => {
          for (const row of rows) {
            this.#takeWallet({ tenantId: textOf(row.tenant_id) }, row);
          }
        },
      },
      {
        statement: lockCouponsOfTenantsStatement(tenantIds, requestIds),
        take: (rows) => this.#takeCoupons(rows),
      },
    ];
    // Reservations (with their holds or not) and payout rates: one statement of each for all.
    const withHolds = new Set<string>();
    const withoutHolds = new Set<string>();
    const providerIds = new Set<string>();
    for (const { reservation, holdsOf, payout, ...others } of reads) {
      assert(holdsOf === undefined || holdsOf === reservation, 'grouped: its own holds only');
      if (reservation !== undefined) {
        (holdsOf === undefined ? withoutHolds : withHolds).add(reservation);
      }
      if (payout !== undefined) {
        providerIds.add(payout);
      }
      steps.push(...this.#readSteps(others));
    }
    if (withHolds.size > 0) {
      steps.push(this.#reservationsStep([...withHolds], true));
    }
    if (withoutHolds.size > 0) {
      steps.push(this.#reservationsStep([...withoutHolds], false));
    }
    for (const providerId of providerIds) {
      steps.push(...this.#readSteps({ payout: providerId }));
    }
    await this.#runSteps(steps);
  }

  /** Reservations by request id, with their `reserve:` transaction and open holds or not. */
  #reservationsStep(requestIds: readonly string[], withHolds: boolean): LoadStep {
    return {
      statement: withHolds
        ? reservationsHoldsStatement(requestIds)
        : reservationsStatement(requestIds),
      take: (rows) => {
        const rowsOf = new Map<string, Row[]>(requestIds.map((requestId) => [requestId, []]));
        for (const row of rows) {
          rowsOf.get(textOf(row.request_id))?.push(row);
        }
        for (const [requestId, own] of rowsOf) {
          this.#reservations.set(requestId, own[0] ? reservationOf(own[0]) : null);
          if (withHolds) {
            this.#takeHolds(`reserve:${requestId}`, own);
          }
        }
      },
    };
  }

  async #runSteps(steps: readonly LoadStep[]): Promise<void> {
    const results = await runPipelined(
      this.#client,
      steps.map((step) => step.statement),
    );
    steps.forEach((step, index) => {
      const result = results[index];
      assert(result, 'every statement of the load is answered');
      step.take(result.rows as Row[]);
    });
  }

  #takeWallet(lock: TenantLock, row: Row | undefined): string | undefined {
    if ('tenantId' in lock) {
      assert(row, `the wallet of ${lock.tenantId} exists before its tenant is locked`);
    } else if (!row) {
      return undefined;
    }
    const tenantId = 'tenantId' in lock ? lock.tenantId : textOf(row.tenant_id);
    const walletId = accountIds.wallet(tenantId);
    this.#accounts.set(walletId, {
      id: walletId,
      guarded: true,
      base: balancesOf(row),
      delta: zero(),
    });
    this.#lockedTenants.add(tenantId);
    return tenantId;
  }

  #takeCoupons(rows: Row[]): void {
    for (const row of rows) {
      const record = couponRecordOf(row);
      this.#coupons.set(record.id, record);
      this.#accounts.set(textOf(row.account_id), {
        id: textOf(row.account_id),
        guarded: true,
        base: balancesOf(row),
        delta: zero(),
      });
    }
  }

  #readSteps(reads: UnitReads): LoadStep[] {
    const steps: LoadStep[] = [];
    const { reservation, orphan, transaction, holdsOf, usageCost, payout, backend, price } = reads;
    steps.push(...this.#operatorSteps(reads));
    if (reservation !== undefined && holdsOf === reservation) {
      // Settle and release read both: one statement.
      steps.push(this.#reservationsStep([reservation], true));
    } else if (reservation !== undefined) {
      steps.push(this.#reservationsStep([reservation], false));
    }
    if (orphan !== undefined) {
      steps.push({
        statement: orphanStatement(orphan.requestId, orphan.criteria),
        take: (rows) =>
          this.#reservations.set(orphan.requestId, rows[0] ? reservationOf(rows[0]) : null),
      });
    }
    if (transaction !== undefined) {
      steps.push(this.#transactionStep(transaction));
    }
    if (holdsOf !== undefined && holdsOf !== reservation) {
      const key = `reserve:${holdsOf}`;
      steps.push({
        statement: transactionHoldsStatement(key),
        take: (rows) => this.#takeHolds(key, rows),
      });
    }
    if (usageCost !== undefined) {
      steps.push({
        statement: usageCostStatement(usageCost),
        take: (rows) =>
          this.#usageCosts.set(
            usageCost,
            rows[0]
              ? { costMicro: moneyOf(rows[0].cost), paidBy: paidByOf(rows[0].paid_by) }
              : null,
          ),
      });
    }
    if (payout !== undefined) {
      steps.push({
        statement: payoutStatement(payout),
        take: (rows) => this.#payouts.set(payout, payoutScheduleOf(rows)),
      });
    }
    if (backend !== undefined) {
      steps.push({
        statement: backendStatement(backend),
        take: (rows) => this.#backends.set(backend, rows[0] ? backendPlacementOf(rows[0]) : null),
      });
    }
    if (price !== undefined) {
      steps.push({
        statement: priceStatement(price),
        take: (rows) => this.#prices.set(price, rows[0] ? priceTermsOf(rows[0]) : null),
      });
    }
    return steps;
  }

  /**
   * What a payout or adjustment reads: the shared accounts it moves, locked first (a payout has
   * no tenant to lock: this is its lock, so what follows sees every payout committed before), then
   * its earlier transaction.
   */
  #operatorSteps(reads: UnitReads): LoadStep[] {
    const steps: LoadStep[] = [];
    const { operator, sharedAccounts } = reads;
    if (sharedAccounts !== undefined && sharedAccounts.length > 0) {
      steps.push({
        statement: lockSharedAccountsStatement(sharedAccounts),
        take: (rows) => {
          for (const id of sharedAccounts) {
            this.#readableShared.add(id);
          }
          for (const row of rows) {
            const id = textOf(row.id);
            this.#accounts.set(id, { id, guarded: false, base: balancesOf(row), delta: zero() });
          }
        },
      });
    }
    if (operator !== undefined) {
      steps.push({
        statement: operatorTransactionStatement(operator),
        take: (rows) =>
          this.#operatorTransactions.set(operator, rows[0] ? operatorTransactionOf(rows[0]) : null),
      });
    }
    return steps;
  }

  /** A transaction and its open holds, from rows of one hold each (or one without a hold). */
  #takeHolds(key: string, rows: Row[]): void {
    const [first] = rows;
    const reserve = first ? holdingTransactionOf(first) : null;
    this.#transactions.set(key, reserve);
    if (reserve) {
      const holds = rows.filter((row) => row.id !== null && row.id !== undefined);
      this.#openHolds.set(reserve.id, holds.map(pendingTransferOf));
    }
  }

  #transactionStep(idempotencyKey: string): LoadStep {
    return {
      statement: transactionStatement(idempotencyKey),
      take: (rows) =>
        this.#transactions.set(idempotencyKey, rows[0] ? recordedTransactionOf(rows[0]) : null),
    };
  }

  // ---- Phase 2: the LedgerUnit, answered from memory --------------------------------------

  #available(entry: AccountEntry): bigint {
    assert(entry.base, `${entry.id} is a shared account: it is written, never read`);
    return (
      entry.base.creditsPosted +
      entry.delta.creditsPosted -
      (entry.base.debitsPosted + entry.delta.debitsPosted) -
      (entry.base.debitsPending + entry.delta.debitsPending)
    );
  }

  #entry(id: string): AccountEntry {
    const existing = this.#accounts.get(id);
    if (existing) {
      return existing;
    }
    assert(!isGuardedAccountId(id), `${id} was not loaded: lock its tenant first`);
    const entry: AccountEntry = { id, guarded: false, base: undefined, delta: zero() };
    this.#accounts.set(id, entry);
    return entry;
  }

  #funded(record: CouponRecord): FundedCoupon {
    const entry = this.#entry(accountIds.coupon(record.id));
    const held = (entry.base?.debitsPending ?? 0n) + entry.delta.debitsPending;
    return fundedCouponOf(record, this.#available(entry), held);
  }

  walletAvailableMicro(tenantId: string): bigint {
    assert(this.#lockedTenants.has(tenantId), `tenant ${tenantId} is locked before it is read`);
    return this.#available(this.#entry(accountIds.wallet(tenantId)));
  }

  couponsOfTenant(tenantId: string): FundedCoupon[] {
    assert(this.#lockedTenants.has(tenantId), `tenant ${tenantId} is locked before it is read`);
    return [...this.#coupons.values()]
      .filter((coupon) => coupon.tenantId === tenantId)
      .sort(
        (left, right) =>
          left.createdAtMs - right.createdAtMs ||
          (left.id < right.id ? -1 : left.id > right.id ? 1 : 0),
      )
      .map((coupon) => this.#funded(coupon));
  }

  coupon(couponId: string): FundedCoupon | undefined {
    const record = this.#coupons.get(couponId);
    return record && this.#funded(record);
  }

  couponByReference(tenantId: string, reference: string): FundedCoupon | undefined {
    assert(this.#lockedTenants.has(tenantId), `tenant ${tenantId} is locked before it is read`);
    const record = [...this.#coupons.values()].find(
      (coupon) => coupon.tenantId === tenantId && coupon.reference === reference,
    );
    return record && this.#funded(record);
  }

  reservation(requestId: string): ReservationRow | undefined {
    const row = loaded(this.#reservations, requestId, 'reservation');
    return row && { ...row };
  }

  transaction(idempotencyKey: string): RecordedTransaction | undefined {
    return loaded(this.#transactions, idempotencyKey, 'transaction');
  }

  openHoldsOf(transactionId: number): PendingTransfer[] {
    const holds = this.#openHolds.get(transactionId);
    assert(holds, `the holds of transaction ${transactionId} were not loaded`);
    return [...holds];
  }

  usageCostAndPayment(requestId: string) {
    return loaded(this.#usageCosts, requestId, 'usage record');
  }

  operatorTransaction(idempotencyKey: string): OperatorTransaction | undefined {
    return loaded(this.#operatorTransactions, idempotencyKey, 'operator transaction');
  }

  providerPayoutBps(providerId: string, atMs: number): number | undefined {
    const schedule = loaded(this.#payouts, providerId, 'provider');
    return schedule && payoutBpsAt(schedule, atMs);
  }

  payableMicro(providerId: string): bigint {
    const id = accountIds.providerPayable(providerId);
    assert(this.#readableShared.has(id), `${id} is locked before it is read`);
    const entry = this.#accounts.get(id);
    return entry ? this.#available(entry) : 0n;
  }

  backendPlacement(backendId: string): BackendPlacement | undefined {
    return loaded(this.#backends, backendId, 'backend');
  }

  priceTerms(priceId: string): PriceTerms | undefined {
    return loaded(this.#prices, priceId, 'price');
  }

  ensureAccount(id: string, kind: AccountKind, ownerId: string | null): void {
    if (this.#accounts.has(id)) {
      return;
    }
    const guarded = guardedAccountKinds.has(kind);
    // A guarded account not loaded under the tenant's lock does not exist yet: it starts empty.
    this.#accounts.set(id, { id, guarded, base: guarded ? zero() : undefined, delta: zero() });
    if (guarded || !this.#knownAccountIds.has(id)) {
      this.#accountsToCreate.set(id, { kind, ownerId, guarded });
    }
  }

  insertTransaction(fields: TransactionFields): number {
    assert(
      !this.#transactions.get(fields.idempotencyKey),
      `transaction ${fields.idempotencyKey} is recorded once`,
    );
    // Provisional ids are negative; the flush replaces them with the store's.
    const provisionalId = -(this.#journal.transactions.length + 1);
    this.#journal.transactions.push({ provisionalId, fields });
    this.#transactions.set(fields.idempotencyKey, {
      id: provisionalId,
      amountMicro: fields.amountMicro,
      kind: fields.kind,
      reference: fields.reference,
    });
    return provisionalId;
  }

  #debitAllowed(entry: AccountEntry, amount: bigint, what: string): void {
    if (entry.guarded && this.#available(entry) < amount) {
      throw new InsufficientFundsError(`${entry.id} cannot ${what} ${amount}`);
    }
  }

  post(transactionId: number, debitId: string, creditId: string, amount: bigint, atMs: number) {
    assert(amount > 0n, 'a transfer moves a positive amount');
    const debit = this.#entry(debitId);
    const credit = this.#entry(creditId);
    this.#debitAllowed(debit, amount, 'pay');
    debit.delta.debitsPosted += amount;
    credit.delta.creditsPosted += amount;
    this.#journal.transfers.push({
      transactionId,
      debitAccountId: debitId,
      creditAccountId: creditId,
      amount,
      flag: 'posted',
      pendingId: null,
      atMs,
    });
  }

  hold(transactionId: number, debitId: string, creditId: string, amount: bigint, atMs: number) {
    assert(amount > 0n, 'a hold is a positive amount');
    const debit = this.#entry(debitId);
    const credit = this.#entry(creditId);
    this.#debitAllowed(debit, amount, 'hold');
    debit.delta.debitsPending += amount;
    credit.delta.creditsPending += amount;
    this.#journal.transfers.push({
      transactionId,
      debitAccountId: debitId,
      creditAccountId: creditId,
      amount,
      flag: 'pending',
      pendingId: null,
      atMs,
    });
  }

  resolve(transactionId: number, pending: PendingTransfer, postAmount: bigint, atMs: number) {
    assert(postAmount >= 0n, 'a posted amount is not negative');
    assert(postAmount <= pending.amount, 'a hold posts at most what it held');
    assert(pending.id > 0, 'only a stored hold is resolved');
    const debit = this.#entry(pending.debitAccountId);
    const credit = this.#entry(pending.creditAccountId);
    debit.delta.debitsPending -= pending.amount;
    debit.delta.debitsPosted += postAmount;
    credit.delta.creditsPending -= pending.amount;
    credit.delta.creditsPosted += postAmount;
    this.#journal.transfers.push({
      transactionId,
      debitAccountId: pending.debitAccountId,
      creditAccountId: pending.creditAccountId,
      amount: postAmount > 0n ? postAmount : pending.amount,
      flag: postAmount > 0n ? 'post_pending' : 'void_pending',
      pendingId: pending.id,
      atMs,
    });
    for (const [id, holds] of this.#openHolds) {
      this.#openHolds.set(
        id,
        holds.filter((hold) => hold.id !== pending.id),
      );
    }
  }

  insertCoupon(coupon: CouponTerms & { createdAtMs: number }): void {
    assert(!this.#coupons.has(coupon.id), `coupon ${coupon.id} is inserted once`);
    this.#coupons.set(coupon.id, { ...coupon, status: 'active' });
    this.#journal.couponInserts.push(coupon);
  }

  endCoupon(couponId: string, status: 'voided' | 'expired', atMs: number): boolean {
    const record = this.#coupons.get(couponId);
    if (record?.status !== 'active') {
      return false;
    }
    this.#coupons.set(couponId, { ...record, status });
    this.#journal.couponEnds.push({ id: couponId, status, atMs });
    return true;
  }

  insertReservation(row: NewReservationRow): void {
    assert(!this.#reservations.get(row.requestId), `reservation ${row.requestId} is made once`);
    this.#reservations.set(row.requestId, {
      ...row,
      status: 'reserved',
      backendId: null,
      checkpointInputTokens: null,
      checkpointOutputTokens: null,
    });
    this.#journal.reservationInserts.push(row);
  }

  endReservation(requestId: string, status: 'settled' | 'released', atMs: number): boolean {
    const row = this.#reservations.get(requestId);
    if (row?.status !== 'reserved') {
      return false;
    }
    this.#reservations.set(requestId, { ...row, status });
    this.#journal.reservationEnds.push({ requestId, status, atMs });
    return true;
  }

  insertUsage(row: UsageRow): void {
    this.#usageCosts.set(row.requestId, { costMicro: row.costMicro, paidBy: row.paidBy });
    this.#journal.usageInserts.push(row);
  }

  // ---- Between operations of a group: undoing one alone -----------------------------------

  /**
   * What the operations so far left in memory. An operation of a group that throws is undone
   * back to the mark taken before it, so the next one sees only the operations that succeeded.
   * Rows are replaced, never changed in place, except balance deltas (copied here); the journal
   * only grows.
   */
  mark(): UnitMark {
    return {
      accounts: new Map(
        [...this.#accounts].map(([id, entry]) => [id, { ...entry, delta: { ...entry.delta } }]),
      ),
      accountsToCreate: new Map(this.#accountsToCreate),
      coupons: new Map(this.#coupons),
      reservations: new Map(this.#reservations),
      transactions: new Map(this.#transactions),
      openHolds: new Map(this.#openHolds),
      usageCosts: new Map(this.#usageCosts),
      journalLengths: Object.fromEntries(
        Object.entries(this.#journal).map(([part, rows]) => [part, rows.length]),
      ),
    };
  }

  rollbackTo(mark: UnitMark): void {
    restore(this.#accounts, mark.accounts);
    restore(this.#accountsToCreate, mark.accountsToCreate);
    restore(this.#coupons, mark.coupons);
    restore(this.#reservations, mark.reservations);
    restore(this.#transactions, mark.transactions);
    restore(this.#openHolds, mark.openHolds);
    restore(this.#usageCosts, mark.usageCosts);
    for (const [part, rows] of Object.entries(this.#journal)) {
      rows.length = mark.journalLengths[part] ?? 0;
    }
  }

  // ---- Phase 3: flush the journal ----------------------------------------------------------

  /**
   * Writes everything the operation did and commits, in one round trip; returns the stored id
   * of each provisional transaction id.
   */
  flushAndCommit(
    commitWith: TransactionSteps['commitWith'],
  ): Promise<(provisionalId: number) => number> {
    const changed = [...this.#accounts.values()].filter(
      ({ delta }) =>
        delta.debitsPosted !== 0n ||
        delta.creditsPosted !== 0n ||
        delta.debitsPending !== 0n ||
        delta.creditsPending !== 0n,
    );
    return writeLedgerJournal(commitWith, {
      ...this.#journal,
      accountsToCreate: [...this.#accountsToCreate].map(([id, account]) => ({ id, ...account })),
      balanceChanges: changed.map((entry) => ({
        id: entry.id,
        guarded: entry.guarded,
        ...entry.delta,
      })),
    });
  }

  /** The shared accounts this unit created: once it commits, they need no INSERT again. */
  createdSharedAccountIds(): string[] {
    return [...this.#accountsToCreate].flatMap(([id, account]) => (account.guarded ? [] : [id]));
  }
}
