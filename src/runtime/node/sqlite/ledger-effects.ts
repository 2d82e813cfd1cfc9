/**
 * What a SQLite ledger transaction defers until it ends. Three kinds of work would otherwise cost
 * a statement each, on every request:
 * - balance changes of the unguarded system accounts (holds, revenue, payables, cash ...), summed
 *   per account;
 * - rows of the append-only tables (ledger transactions and transfers kept in full, usage
 *   records), written together in multi-row INSERTs, their ids handed out here from the last id
 *   read once per transaction (the IMMEDIATE transaction holds the write lock, so no one else
 *   inserts); a request's own transaction is built here until its record is written (see
 *   request-journal.ts);
 * - in-memory effects (caches), applied only once the commit succeeded.
 * Whatever is deferred shares the transaction's fate: written right before it commits (or before
 * anything reads those tables), dropped with a rollback, so memory never claims what the file
 * does not hold. Memory that changes with the transaction itself (the tenants' balances, see
 * tenant-balances.ts) is forgotten whole on any rollback, and read from the file again.
 */
import { assert } from '../../../assert.ts';
import type { RequestJournal } from './request-journal.ts';

export type BalanceColumn =
  | 'debits_posted'
  | 'credits_posted'
  | 'debits_pending'
  | 'credits_pending';

/** The summed change of one account, per column. */
export type AccountDelta = Record<BalanceColumn, bigint>;

export type AppendTable = 'journal_transactions' | 'journal_transfers' | 'usage_records';
export type IdentifiedTable = Exclude<AppendTable, 'usage_records'>;

/** Queued rows of one table, their values laid end to end. */
export type QueuedRows = { values: unknown[]; rowCount: number };

export type DeferredWrites = {
  balances: Map<string, AccountDelta>;
  rows: Map<AppendTable, QueuedRows>;
};

export type LedgerEffects = ReturnType<typeof createLedgerEffects>;

export function createLedgerEffects() {
  let balances = new Map<string, AccountDelta>();
  let rows = new Map<AppendTable, QueuedRows>();
  let effects: (() => void)[] = [];
  let nextIds = new Map<IdentifiedTable, number>();
  let requestJournal: RequestJournal | undefined;
  const liveMemory: (() => void)[] = [];
  const forgetLiveMemory = () => {
    for (const forget of liveMemory) {
      forget();
    }
  };

  const clearWrites = () => {
    balances = new Map();
    rows = new Map();
  };
  const assertNoRequestJournal = () =>
    assert(requestJournal === undefined, "a request's transaction was written with its record");

  return {
    /** Adds to a balance column of an account that has no overdraft guard. */
    addBalance(accountId: string, column: BalanceColumn, amountMicro: bigint): void {
      let delta = balances.get(accountId);
      if (!delta) {
        delta = { debits_posted: 0n, credits_posted: 0n, debits_pending: 0n, credits_pending: 0n };
        balances.set(accountId, delta);
      }
      delta[column] += amountMicro;
    },
    /** Queues a row for a multi-row INSERT, its values in the table's insert order. */
    addRow(table: AppendTable, values: readonly unknown[]): void {
      let queued = rows.get(table);
      if (!queued) {
        queued = { values: [], rowCount: 0 };
        rows.set(table, queued);
      }
      for (const value of values) {
        queued.values.push(value);
      }
      queued.rowCount += 1;
    },
    /** The next id of a table in this transaction; `readMaximum` runs once per transaction. */
    nextId(table: IdentifiedTable, readMaximum: () => number): number {
      const id = nextIds.get(table) ?? readMaximum() + 1;
      nextIds.set(table, id + 1);
      return id;
    },
    /** The last id handed out per table in this transaction (none when it handed out none). */
    lastIds(): ReadonlyMap<IdentifiedTable, number> {
      return new Map([...nextIds].map(([table, next]) => [table, next - 1]));
    },
    /** Starts a request's own transaction; its record takes it (takeRequestJournal). */
    beginRequestJournal(journal: RequestJournal): void {
      assertNoRequestJournal();
      requestJournal = journal;
    },
    /** The request's transaction being built, if any. */
    requestJournal(): RequestJournal | undefined {
      return requestJournal;
    },
    /** Hands the request's transaction to the record that carries it. */
    takeRequestJournal(): RequestJournal | undefined {
      const taken = requestJournal;
      requestJournal = undefined;
      return taken;
    },
    /** Memory changed inside transactions: `forget` runs on every rollback, whole or partial. */
    forgetOnRollback(forget: () => void): void {
      liveMemory.push(forget);
    },
    /** Runs after the transaction commits; never if it rolls back. */
    afterCommit(apply: () => void): void {
      effects.push(apply);
    },
    /** Hands over the deferred writes (to be written now) and forgets them. */
    takeWrites(): DeferredWrites {
      const taken = { balances, rows };
      clearWrites();
      return taken;
    },
    /** A point to roll one operation back to, when it fails inside a batch. */
    mark(): number {
      assert(balances.size === 0 && rows.size === 0, 'an operation starts with nothing deferred');
      assertNoRequestJournal();
      return effects.length;
    },
    /** One operation failed: forget what it deferred, keep what the others did. */
    rollbackTo(mark: number): void {
      assert(mark <= effects.length, 'a mark is taken before what it rolls back');
      clearWrites();
      requestJournal = undefined;
      effects.length = mark;
      forgetLiveMemory();
    },
    /** The transaction committed: apply the in-memory effects, in order, and start afresh. */
    committed(): void {
      assert(balances.size === 0 && rows.size === 0, 'every deferred write was written');
      assertNoRequestJournal();
      const done = effects;
      effects = [];
      nextIds = new Map();
      for (const apply of done) {
        apply();
      }
    },
    /** The transaction rolled back: forget everything it deferred. */
    discard(): void {
      clearWrites();
      requestJournal = undefined;
      effects = [];
      nextIds = new Map();
      forgetLiveMemory();
    },
  };
}
