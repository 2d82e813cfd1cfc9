/**
 * The double-entry primitives of the SQLite ledger: accounts, transactions and transfers over
 * prepared statements (prepared once; money read as BigInt). Every balance change is a guarded
 * UPDATE whose row count is checked, so no wallet or coupon can go below zero even when two
 * processes share the file. Callers run these inside one IMMEDIATE transaction.
 */
import type Database from 'better-sqlite3';
import { assert } from '../../assert.ts';

export type AccountKind =
  | 'wallet'
  | 'coupon'
  | 'holds'
  | 'revenue'
  | 'provider_payable'
  | 'subsidy_receivable'
  | 'cash'
  | 'write_off'
  | 'breakage';

/** Tenant-facing accounts: they hold the tenant's money and may never be overdrawn. */
const guardedKinds: ReadonlySet<AccountKind> = new Set(['wallet', 'coupon']);

export const accountIds = {
  wallet: (tenantId: string) => `wallet:${tenantId}`,
  coupon: (couponId: string) => `coupon:${couponId}`,
  providerPayable: (providerId: string) => `provider_payable:${providerId}`,
  subsidyReceivable: (program: string) => `subsidy_receivable:${program}`,
  holds: 'holds',
  revenue: 'revenue',
  cash: 'cash',
  writeOff: 'write_off',
  breakage: 'breakage',
} as const;

export class InsufficientFundsError extends Error {
  override name = 'InsufficientFundsError';
}

export type PendingTransfer = {
  id: number;
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
};

type TransactionRow = { id: bigint; amount: bigint; kind: string };

export type LedgerStore = ReturnType<typeof createLedgerStore>;

export function createLedgerStore(connection: Database.Database) {
  const statements = {
    ensureAccount: connection.prepare(
      `INSERT INTO accounts (id, kind, owner_id, no_overdraft, debits_posted, credits_posted, debits_pending, credits_pending)
       VALUES (?, ?, ?, ?, 0, 0, 0, 0) ON CONFLICT (id) DO NOTHING`,
    ),
    available: connection
      .prepare(
        'SELECT credits_posted - debits_posted - debits_pending AS available FROM accounts WHERE id = ?',
      )
      .safeIntegers(true),
    findTransaction: connection
      .prepare('SELECT id, amount, kind FROM ledger_transactions WHERE idempotency_key = ?')
      .safeIntegers(true),
    insertTransaction: connection.prepare(
      `INSERT INTO ledger_transactions (idempotency_key, kind, tenant_id, request_id, reference, amount, created_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertTransfer: connection.prepare(
      `INSERT INTO transfers (transaction_id, debit_account_id, credit_account_id, amount, flag, pending_id, created_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    debitPosted: connection.prepare(
      `UPDATE accounts SET debits_posted = debits_posted + @amount
       WHERE id = @id AND (no_overdraft = 0 OR credits_posted - debits_posted - debits_pending >= @amount)`,
    ),
    creditPosted: connection.prepare(
      'UPDATE accounts SET credits_posted = credits_posted + ? WHERE id = ?',
    ),
    debitPending: connection.prepare(
      `UPDATE accounts SET debits_pending = debits_pending + @amount
       WHERE id = @id AND (no_overdraft = 0 OR credits_posted - debits_posted - debits_pending >= @amount)`,
    ),
    creditPending: connection.prepare(
      'UPDATE accounts SET credits_pending = credits_pending + ? WHERE id = ?',
    ),
    resolveDebit: connection.prepare(
      'UPDATE accounts SET debits_pending = debits_pending - ?, debits_posted = debits_posted + ? WHERE id = ?',
    ),
    resolveCredit: connection.prepare(
      'UPDATE accounts SET credits_pending = credits_pending - ?, credits_posted = credits_posted + ? WHERE id = ?',
    ),
    openPendingOfTransaction: connection
      .prepare(
        `SELECT t.id, t.debit_account_id AS debitAccountId, t.credit_account_id AS creditAccountId, t.amount
         FROM transfers t
         WHERE t.transaction_id = ? AND t.flag = 'pending'
           AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id)
         ORDER BY t.id`,
      )
      .safeIntegers(true),
  };

  /** Accounts are never deleted, so one that was created once needs no second INSERT. */
  const knownAccountIds = new Set<string>();

  function ensureAccount(id: string, kind: AccountKind, ownerId: string | null): void {
    if (knownAccountIds.has(id)) {
      return;
    }
    statements.ensureAccount.run(id, kind, ownerId, guardedKinds.has(kind) ? 1 : 0);
    knownAccountIds.add(id);
  }

  function changedOne(result: Database.RunResult, what: string): void {
    if (result.changes !== 1) {
      throw new InsufficientFundsError(what);
    }
  }

  return {
    ensureAccount,

    availableMicro(accountId: string): bigint {
      const row = statements.available.get(accountId) as { available: bigint } | undefined;
      return row?.available ?? 0n;
    },

    /** The transaction already recorded under this key, if any. */
    findTransaction(
      idempotencyKey: string,
    ): { id: number; amount: bigint; kind: string } | undefined {
      const row = statements.findTransaction.get(idempotencyKey) as TransactionRow | undefined;
      return row && { id: Number(row.id), amount: row.amount, kind: row.kind };
    },

    insertTransaction(fields: {
      idempotencyKey: string;
      kind: string;
      tenantId: string | null;
      requestId: string | null;
      reference: string | null;
      amountMicro: bigint;
      atMs: number;
    }): number {
      const result = statements.insertTransaction.run(
        fields.idempotencyKey,
        fields.kind,
        fields.tenantId,
        fields.requestId,
        fields.reference,
        fields.amountMicro,
        fields.atMs,
      );
      return Number(result.lastInsertRowid);
    },

    /** Moves money at once; refuses to overdraw a guarded account. */
    post(transactionId: number, debitId: string, creditId: string, amount: bigint, atMs: number) {
      assert(amount > 0n, 'a transfer moves a positive amount');
      changedOne(
        statements.debitPosted.run({ amount, id: debitId }),
        `${debitId} cannot pay ${amount}`,
      );
      assert(statements.creditPosted.run(amount, creditId).changes === 1, `no account ${creditId}`);
      statements.insertTransfer.run(transactionId, debitId, creditId, amount, 'posted', null, atMs);
    },

    /** Holds money; refuses to overdraw a guarded account. */
    hold(transactionId: number, debitId: string, creditId: string, amount: bigint, atMs: number) {
      assert(amount > 0n, 'a hold is a positive amount');
      changedOne(
        statements.debitPending.run({ amount, id: debitId }),
        `${debitId} cannot hold ${amount}`,
      );
      assert(
        statements.creditPending.run(amount, creditId).changes === 1,
        `no account ${creditId}`,
      );
      statements.insertTransfer.run(
        transactionId,
        debitId,
        creditId,
        amount,
        'pending',
        null,
        atMs,
      );
    },

    /** Posts `postAmount` (at most the hold) of a pending transfer and frees the rest. */
    resolve(transactionId: number, pending: PendingTransfer, postAmount: bigint, atMs: number) {
      assert(postAmount >= 0n, 'a posted amount is not negative');
      assert(postAmount <= pending.amount, 'a hold posts at most what it held');
      statements.resolveDebit.run(pending.amount, postAmount, pending.debitAccountId);
      statements.resolveCredit.run(pending.amount, postAmount, pending.creditAccountId);
      const flag = postAmount > 0n ? 'post_pending' : 'void_pending';
      const amount = postAmount > 0n ? postAmount : pending.amount;
      statements.insertTransfer.run(
        transactionId,
        pending.debitAccountId,
        pending.creditAccountId,
        amount,
        flag,
        pending.id,
        atMs,
      );
    },

    openPendingOf(transactionId: number): PendingTransfer[] {
      const rows = statements.openPendingOfTransaction.all(transactionId) as (PendingTransfer & {
        id: bigint;
      })[];
      return rows.map((row) => ({ ...row, id: Number(row.id) }));
    },
  };
}
