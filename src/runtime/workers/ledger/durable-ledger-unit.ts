/**
 * The third LedgerUnit (billing/ledger-unit.ts), over a Durable Object's SQLite storage: the
 * shared operations (reserve-, settle-, grant-, payout-, adjustment-, storage- and
 * lease-operation.ts) run unchanged inside the object's `transactionSync`, which makes their reads
 * and writes one atomic step (the storage API refuses BEGIN). Every statement is synchronous and
 * local, so nothing is deferred: a tenant-facing account (wallet, coupon) changes through a
 * guarded UPDATE that refuses to go below zero, a system account through a plain one. The object
 * runs one call at a time, which is the per-tenant serialization of reserve and settle. Every
 * transaction and transfer is written in full (journal_transactions, journal_transfers): the lean
 * records of the Node SQLite store (request-journal.ts) save a shared file's writes, and here
 * each tenant's writes are local to its object; the views read both kinds alike.
 */
import { assert } from '../../../assert.ts';
import { guardedAccountKinds, InsufficientFundsError } from '../../../billing/ledger-accounts.ts';
import type {
  LedgerUnit,
  OperatorTransaction,
  PendingTransfer,
} from '../../../billing/ledger-unit.ts';
import { columnList, propertiesOf, rowValues } from '../../../db/ledger-column.ts';
import { ledgerTransactionColumns } from '../../../db/ledger-tables.ts';
import { storedTransactionOf } from '../../ledger-row-codecs.ts';
import type { DurableSql, SqlParameter } from '../durable-sql.ts';
import type { DurableLedgerRows } from './durable-ledger-rows.ts';

const transactionProperties = propertiesOf(ledgerTransactionColumns).filter(
  (property) => property !== 'id',
);

function isGuarded(accountId: string): boolean {
  return accountId.startsWith('wallet:') || accountId.startsWith('coupon:');
}

type Side = 'debits_posted' | 'credits_posted' | 'debits_pending' | 'credits_pending';

export function durableLedgerUnit(sql: DurableSql, rows: DurableLedgerRows): LedgerUnit {
  /** Adds to one side of an account; a guarded debit refuses to overdraw it. */
  function change(accountId: string, side: Side, amount: bigint): void {
    const guard =
      isGuarded(accountId) && side.startsWith('debits') && amount > 0n
        ? 'AND credits_posted - debits_posted - debits_pending >= CAST(? AS INTEGER)'
        : '';
    const parameters: SqlParameter[] = [amount, accountId];
    if (guard !== '') {
      parameters.push(amount);
    }
    const changed = sql.all(
      `UPDATE accounts SET ${side} = ${side} + CAST(? AS INTEGER) WHERE id = ? ${guard} RETURNING id`,
      ...parameters,
    ).length;
    if (changed === 1) {
      return;
    }
    assert(guard !== '' || changed === 1, `no account ${accountId}`);
    throw new InsufficientFundsError(`${accountId} cannot pay ${amount}`);
  }

  function addTransfer(
    transactionId: number,
    debitAccountId: string,
    creditAccountId: string,
    amount: bigint,
    flag: 'posted' | 'pending' | 'post_pending' | 'void_pending',
    pendingId: number | null,
    atMs: number,
  ): number {
    const row = sql.first(
      `INSERT INTO journal_transfers (transaction_id, debit_account_id, credit_account_id, amount, flag,
         pending_id, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      transactionId,
      debitAccountId,
      creditAccountId,
      amount,
      flag,
      pendingId,
      atMs,
    );
    assert(row, 'a transfer is written');
    return Number(row.id);
  }

  /** A transaction kept in full, by its key (an operator's, with its memo and time, or any). */
  function recordedTransaction(idempotencyKey: string): OperatorTransaction | undefined {
    const row = sql.first(
      `SELECT id, CAST(amount AS TEXT) AS amount, kind, reference, memo,
         created_at_ms AS createdAtMs FROM journal_transactions WHERE idempotency_key = ?`,
      idempotencyKey,
    );
    return (
      row && {
        id: Number(row.id),
        amountMicro: BigInt(String(row.amount)),
        kind: String(row.kind),
        reference: row.reference === null ? null : String(row.reference),
        memo: row.memo === null ? null : String(row.memo),
        createdAtMs: Number(row.createdAtMs),
      }
    );
  }

  const money = (query: string, ...parameters: SqlParameter[]): bigint | undefined => {
    const row = sql.first(query, ...parameters);
    return row && BigInt(String(row.micro));
  };

  return {
    walletAvailableMicro(tenantId) {
      this.ensureAccount(`wallet:${tenantId}`, 'wallet', tenantId);
      return (
        money(
          `SELECT CAST(credits_posted - debits_posted - debits_pending AS TEXT) AS micro
           FROM accounts WHERE id = ?`,
          `wallet:${tenantId}`,
        ) ?? 0n
      );
    },
    couponsOfTenant: (tenantId) => rows.couponsOfTenant(tenantId),
    coupon: (couponId) => rows.coupon(couponId),
    couponByReference: (tenantId, reference) => rows.couponByReference(tenantId, reference),
    reservation: (requestId) => rows.reservation(requestId),
    transaction: (idempotencyKey) => recordedTransaction(idempotencyKey),
    openHoldsOf(transactionId) {
      return sql
        .all(
          `SELECT t.id, t.debit_account_id AS debitAccountId, t.credit_account_id AS creditAccountId,
             CAST(t.amount AS TEXT) AS amount
           FROM journal_transfers t WHERE t.transaction_id = ? AND t.flag = 'pending'
             AND NOT EXISTS (SELECT 1 FROM journal_transfers r WHERE r.pending_id = t.id)
           ORDER BY t.id`,
          transactionId,
        )
        .map(
          (row): PendingTransfer => ({
            id: Number(row.id),
            debitAccountId: String(row.debitAccountId),
            creditAccountId: String(row.creditAccountId),
            amount: BigInt(String(row.amount)),
          }),
        );
    },
    usageCostAndPayment: (requestId) => rows.usageCostAndPayment(requestId),
    operatorTransaction: (idempotencyKey) => recordedTransaction(idempotencyKey),
    providerPayoutBps(providerId, atMs) {
      const row = sql.first(
        `SELECT COALESCE((SELECT r.payout_bps FROM provider_payout_rates r
           WHERE r.provider_id = p.id AND r.effective_at_ms <= ?
           ORDER BY r.effective_at_ms DESC, r.version DESC LIMIT 1), p.payout_bps) AS bps
         FROM providers p WHERE p.id = ?`,
        atMs,
        providerId,
      );
      return row && Number(row.bps);
    },
    payableMicro: (providerId) =>
      money(
        'SELECT CAST(credits_posted - debits_posted AS TEXT) AS micro FROM accounts WHERE id = ?',
        `provider_payable:${providerId}`,
      ) ?? 0n,
    backendPlacement(backendId) {
      const row = sql.first('SELECT provider_id, region FROM backends WHERE id = ?', backendId);
      return row && { providerId: String(row.provider_id), region: String(row.region) };
    },
    priceTerms(priceId) {
      const row = sql.first(
        `SELECT CAST(input_per_million AS TEXT) AS input,
           CAST(cached_input_per_million AS TEXT) AS cached,
           CAST(output_per_million AS TEXT) AS output FROM prices WHERE id = ?`,
        priceId,
      );
      return (
        row && {
          inputPerMillion: BigInt(String(row.input)),
          cachedInputPerMillion: BigInt(String(row.cached)),
          outputPerMillion: BigInt(String(row.output)),
        }
      );
    },

    ensureAccount(id, kind, ownerId) {
      sql.run(
        `INSERT INTO accounts (id, kind, owner_id, no_overdraft, debits_posted, credits_posted,
           debits_pending, credits_pending) VALUES (?, ?, ?, ?, 0, 0, 0, 0)
         ON CONFLICT (id) DO NOTHING`,
        id,
        kind,
        ownerId,
        guardedAccountKinds.has(kind),
      );
    },
    insertTransaction(fields) {
      const row = sql.first(
        `INSERT INTO journal_transactions (${columnList(ledgerTransactionColumns, transactionProperties)})
         VALUES (${transactionProperties.map(() => '?').join(', ')}) RETURNING id`,
        ...(rowValues(
          ledgerTransactionColumns,
          transactionProperties,
          storedTransactionOf(fields),
        ) as SqlParameter[]),
      );
      assert(row, 'a transaction is written');
      return Number(row.id);
    },
    post(transactionId, debitId, creditId, amount, atMs) {
      assert(amount > 0n, 'a transfer moves a positive amount');
      change(debitId, 'debits_posted', amount);
      change(creditId, 'credits_posted', amount);
      addTransfer(transactionId, debitId, creditId, amount, 'posted', null, atMs);
    },
    hold(transactionId, debitId, creditId, amount, atMs) {
      assert(amount > 0n, 'a hold is a positive amount');
      assert(!isGuarded(creditId), 'a hold credits a system account');
      change(debitId, 'debits_pending', amount);
      change(creditId, 'credits_pending', amount);
      addTransfer(transactionId, debitId, creditId, amount, 'pending', null, atMs);
    },
    resolve(transactionId, pending, postAmount, atMs) {
      assert(postAmount >= 0n, 'a posted amount is not negative');
      assert(postAmount <= pending.amount, 'a hold posts at most what it held');
      const { debitAccountId, creditAccountId } = pending;
      // Freeing the hold before posting part of it: the available balance can only grow.
      change(debitAccountId, 'debits_pending', -pending.amount);
      change(creditAccountId, 'credits_pending', -pending.amount);
      if (postAmount > 0n) {
        change(debitAccountId, 'debits_posted', postAmount);
        change(creditAccountId, 'credits_posted', postAmount);
      }
      const flag = postAmount > 0n ? 'post_pending' : 'void_pending';
      const amount = postAmount > 0n ? postAmount : pending.amount;
      addTransfer(transactionId, debitAccountId, creditAccountId, amount, flag, pending.id, atMs);
    },
    insertCoupon: (coupon) => rows.insertCoupon(coupon),
    endCoupon: (couponId, status, atMs) => rows.endCoupon(couponId, status, atMs),
    insertReservation(row) {
      assert(rows.insertReservation(row), `reservation ${row.requestId} is new`);
    },
    endReservation: (requestId, status, atMs) => rows.endReservation(requestId, status, atMs),
    insertUsage: (row) => rows.insertUsage(row),
  };
}
