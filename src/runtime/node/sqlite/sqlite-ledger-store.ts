/**
 * The double-entry primitives of the SQLite ledger: accounts, transactions and transfers over
 * statements prepared once, money read as BigInt. A tenant-facing account (wallet, coupon) is
 * checked against its balance in memory (tenant-balances.ts), which no change may take below
 * zero, and changed there at once; the file's CHECK constraint stands behind it. Every account's
 * changes are summed and written once per commit, one UPDATE per account: they are touched by
 * every request and would otherwise cost an UPDATE per transfer. Transaction and transfer rows
 * are queued and inserted many per statement (see ledger-effects.ts, sqlite-deferred-writer.ts).
 * Callers run all of this inside one IMMEDIATE transaction (see group-commit.ts).
 */
import type Database from 'better-sqlite3';
import { assert } from '../../../assert.ts';
import {
  type AccountKind,
  guardedAccountKinds,
  InsufficientFundsError,
} from '../../../billing/ledger-accounts.ts';
import type {
  PendingTransfer,
  RecordedTransaction,
  TransactionFields,
} from '../../../billing/ledger-unit.ts';
import type { TransferFlag } from '../../../db/enums.ts';
import { propertiesOf, rowValues } from '../../../db/ledger-column.ts';
import { ledgerTransactionColumns, transferColumns } from '../../../db/ledger-tables.ts';
import { storedTransactionOf } from '../../ledger-row-codecs.ts';
import type { LedgerEffects } from './ledger-effects.ts';
import { addJournalTransfer, isRequestKind, type RequestJournal } from './request-journal.ts';
import type { DeferredWriter } from './sqlite-deferred-writer.ts';
import type { TenantBalances } from './tenant-balances.ts';

/** Tenant-facing accounts hold the tenant's money and may never be overdrawn. */
function isGuarded(accountId: string): boolean {
  return accountId.startsWith('wallet:') || accountId.startsWith('coupon:');
}

const transferProperties = propertiesOf(transferColumns);
const transactionProperties = propertiesOf(ledgerTransactionColumns);

export type LedgerStore = ReturnType<typeof createLedgerStore>;

export function createLedgerStore(
  connection: Database.Database,
  effects: LedgerEffects,
  writer: DeferredWriter,
  balances: TenantBalances,
) {
  const statements = {
    ensureAccount: connection.prepare(
      `INSERT INTO accounts (id, kind, owner_id, no_overdraft, debits_posted, credits_posted, debits_pending, credits_pending)
       VALUES (?, ?, ?, ?, 0, 0, 0, 0) ON CONFLICT (id) DO NOTHING`,
    ),
    posted: connection
      .prepare('SELECT credits_posted - debits_posted FROM accounts WHERE id = ?')
      .pluck()
      .safeIntegers(true),
    findTransaction: connection
      .prepare(
        'SELECT id, amount, kind, reference FROM journal_transactions WHERE idempotency_key = ?',
      )
      .safeIntegers(true),
    /** A request's settle or release, carried by its usage record. */
    findEnding: connection
      .prepare(
        `SELECT transaction_id AS id, cost AS amount, transaction_kind AS kind, NULL AS reference
         FROM usage_records WHERE request_id = ? AND transaction_kind = ?`,
      )
      .safeIntegers(true),
    /** A request's reserve, carried by its reservation. */
    findReserve: connection
      .prepare(
        `SELECT transaction_id AS id, reserved_amount AS amount, 'reserve' AS kind, NULL AS reference
         FROM reservations WHERE request_id = ? AND transaction_id IS NOT NULL`,
      )
      .safeIntegers(true),
    openPendingOfTransaction: connection
      .prepare(
        `SELECT t.id, t.debit_account_id AS debitAccountId, t.credit_account_id AS creditAccountId, t.amount
         FROM journal_transfers t
         WHERE t.transaction_id = ? AND t.flag = 'pending'
           AND NOT EXISTS (SELECT 1 FROM journal_transfers r WHERE r.pending_id = t.id)
         ORDER BY t.id`,
      )
      .safeIntegers(true),
  };

  /** Accounts are never deleted, so one known to be committed needs no second INSERT. */
  const knownAccountIds = new Set<string>();

  function ensureAccount(id: string, kind: AccountKind, ownerId: string | null): void {
    if (knownAccountIds.has(id)) {
      return;
    }
    statements.ensureAccount.run(id, kind, ownerId, guardedAccountKinds.has(kind) ? 1 : 0);
    effects.afterCommit(() => knownAccountIds.add(id));
  }

  function debit(accountId: string, amount: bigint, pending: boolean): void {
    const column = pending ? 'debits_pending' : 'debits_posted';
    if (isGuarded(accountId)) {
      if (balances.availableMicro(accountId) < amount) {
        throw new InsufficientFundsError(
          `${accountId} cannot ${pending ? 'hold' : 'pay'} ${amount}`,
        );
      }
      balances.add(accountId, column, amount);
    }
    effects.addBalance(accountId, column, amount);
  }

  function credit(accountId: string, amount: bigint, pending: boolean): void {
    if (isGuarded(accountId)) {
      // Tenant accounts are never credited while pending: holds always credit the holds account.
      assert(!pending, 'a pending credit goes to a system account');
      balances.add(accountId, 'credits_posted', amount);
    }
    effects.addBalance(accountId, pending ? 'credits_pending' : 'credits_posted', amount);
  }

  function addTransfer(
    transactionId: number,
    debitAccountId: string,
    creditAccountId: string,
    amount: bigint,
    flag: TransferFlag,
    pendingId: number | null,
    atMs: number,
  ): PendingTransfer {
    const id = writer.nextId('journal_transfers');
    const journal = effects.requestJournal();
    if (journal?.transactionId === transactionId) {
      addJournalTransfer(journal, {
        id,
        debitAccountId,
        creditAccountId,
        amount,
        flag,
        pendingId,
      });
      return { id, debitAccountId, creditAccountId, amount };
    }
    effects.addRow(
      'journal_transfers',
      rowValues(transferColumns, transferProperties, {
        id,
        transactionId,
        debitAccountId,
        creditAccountId,
        amount,
        flag,
        pendingId,
        createdAtMs: atMs,
      }),
    );
    return { id, debitAccountId, creditAccountId, amount };
  }

  /** The row of a request's reserve, settle or release, when its record carries it. */
  function recordedOfRequest(idempotencyKey: string): unknown {
    const separator = idempotencyKey.indexOf(':');
    const kind = idempotencyKey.slice(0, separator);
    if (separator < 0 || !isRequestKind(kind)) {
      return undefined;
    }
    const requestId = idempotencyKey.slice(separator + 1);
    return kind === 'reserve'
      ? statements.findReserve.get(requestId)
      : statements.findEnding.get(requestId, kind);
  }

  return {
    ensureAccount,

    /** Posted balance of any account (0 when it does not exist yet); flush() first. */
    postedMicro(accountId: string): bigint {
      return (statements.posted.get(accountId) as bigint | undefined) ?? 0n;
    },

    /** Writes what this transaction deferred, so a read of the tables sees it. */
    flush(): void {
      writer.write();
    },

    /** The transaction already recorded under this key, if any, kept in full or in a record. */
    findTransaction(idempotencyKey: string): RecordedTransaction | undefined {
      writer.write();
      const row = (recordedOfRequest(idempotencyKey) ??
        statements.findTransaction.get(idempotencyKey)) as
        | { id: bigint; amount: bigint; kind: string; reference: string | null }
        | undefined;
      return (
        row && {
          id: Number(row.id),
          amountMicro: row.amount,
          kind: row.kind,
          reference: row.reference,
        }
      );
    },

    /**
     * Queues the transaction's row (written with the commit) and returns its id; a request's own
     * transaction is built for its record instead (takeRequestJournal).
     */
    insertTransaction(fields: TransactionFields): number {
      const id = writer.nextId('journal_transactions');
      if (isRequestKind(fields.kind)) {
        effects.beginRequestJournal({ transactionId: id, kind: fields.kind, transfers: [] });
        return id;
      }
      effects.addRow(
        'journal_transactions',
        rowValues(ledgerTransactionColumns, transactionProperties, {
          ...storedTransactionOf(fields),
          id,
        }),
      );
      return id;
    },

    /** Moves money at once; refuses to overdraw a guarded account. */
    post(transactionId: number, debitId: string, creditId: string, amount: bigint, atMs: number) {
      assert(amount > 0n, 'a transfer moves a positive amount');
      debit(debitId, amount, false);
      credit(creditId, amount, false);
      addTransfer(transactionId, debitId, creditId, amount, 'posted', null, atMs);
    },

    /** Holds money; refuses to overdraw a guarded account. Returns the hold. */
    hold(
      transactionId: number,
      debitId: string,
      creditId: string,
      amount: bigint,
      atMs: number,
    ): PendingTransfer {
      assert(amount > 0n, 'a hold is a positive amount');
      debit(debitId, amount, true);
      credit(creditId, amount, true);
      return addTransfer(transactionId, debitId, creditId, amount, 'pending', null, atMs);
    },

    /** Posts `postAmount` (at most the hold) of a pending transfer and frees the rest. */
    resolve(transactionId: number, pending: PendingTransfer, postAmount: bigint, atMs: number) {
      assert(postAmount >= 0n, 'a posted amount is not negative');
      assert(postAmount <= pending.amount, 'a hold posts at most what it held');
      const { debitAccountId, creditAccountId } = pending;
      // Posting part of a hold and freeing the rest: the available balance can only grow.
      if (isGuarded(debitAccountId)) {
        balances.add(debitAccountId, 'debits_pending', -pending.amount);
        balances.add(debitAccountId, 'debits_posted', postAmount);
      }
      effects.addBalance(debitAccountId, 'debits_pending', -pending.amount);
      effects.addBalance(debitAccountId, 'debits_posted', postAmount);
      assert(!isGuarded(creditAccountId), 'a hold credits a system account');
      effects.addBalance(creditAccountId, 'credits_pending', -pending.amount);
      effects.addBalance(creditAccountId, 'credits_posted', postAmount);
      const flag = postAmount > 0n ? 'post_pending' : 'void_pending';
      const amount = postAmount > 0n ? postAmount : pending.amount;
      addTransfer(transactionId, debitAccountId, creditAccountId, amount, flag, pending.id, atMs);
    },

    /** The request's own transaction built so far, handed to the record that carries it. */
    takeRequestJournal(): RequestJournal | undefined {
      return effects.takeRequestJournal();
    },

    /**
     * The open holds of a transaction kept in full (one written before the lean journal): a hold
     * is resolved only as its reservation ends, and a reservation that ended is not asked about.
     */
    openPendingOf(transactionId: number): PendingTransfer[] {
      writer.write();
      const rows = statements.openPendingOfTransaction.all(transactionId) as (PendingTransfer & {
        id: bigint;
      })[];
      return rows.map((row) => ({ ...row, id: Number(row.id) }));
    },
  };
}
