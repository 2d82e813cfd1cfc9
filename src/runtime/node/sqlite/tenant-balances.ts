/**
 * The balances of the tenant-facing accounts (wallets and coupon grants) of the SQLite ledger,
 * kept in memory so that a reservation's "covered?" check and a settlement's legs read no SQL.
 * An account is read from the file on first use; afterwards every change the ledger makes to it
 * is applied here at once, inside the transaction, and queued for the file as one summed UPDATE
 * per account per commit (ledger-effects.ts). The memory is therefore the file's state as of
 * this transaction, which is what every check inside it must see; a rollback forgets it all
 * (ledger-effects.ts calls forgetAll), and so does a commit made by another connection, seen
 * through `PRAGMA data_version` at the start of every transaction (file-changes.ts). The file's
 * CHECK constraint on `accounts` still refuses an overdraft should the memory ever be wrong, and
 * the ledger check compares the memory with the file (disagreements).
 */
import type Database from 'better-sqlite3';
import { assert } from '../../../assert.ts';
import { BoundedMap } from '../../../platform/bounded-map.ts';
import type { BalanceColumn } from './ledger-effects.ts';

/** The columns of a tenant-facing account: it is never credited while pending. */
export type GuardedColumn = Exclude<BalanceColumn, 'credits_pending'>;
export type AccountBalance = Record<GuardedColumn, bigint>;

export type TenantBalancesOptions = {
  /** Writes the changes queued so far, so a read of the file sees them. */
  flush: () => void;
  /** Accounts kept in memory; past it, the oldest are read from the file again when needed. */
  accountsMax: number;
};

export type TenantBalances = ReturnType<typeof createTenantBalances>;

export function availableOf(balance: AccountBalance): bigint {
  return balance.credits_posted - balance.debits_posted - balance.debits_pending;
}

function sameBalance(left: AccountBalance, right: AccountBalance): boolean {
  return (
    left.credits_posted === right.credits_posted &&
    left.debits_posted === right.debits_posted &&
    left.debits_pending === right.debits_pending
  );
}

export function createTenantBalances(
  connection: Database.Database,
  options: TenantBalancesOptions,
) {
  const stored = connection
    .prepare('SELECT credits_posted, debits_posted, debits_pending FROM accounts WHERE id = ?')
    .safeIntegers(true);
  const accounts = new BoundedMap<AccountBalance>(options.accountsMax);

  /** The account's balance as of this transaction; undefined when it does not exist. */
  function balanceOf(accountId: string): AccountBalance | undefined {
    const known = accounts.get(accountId);
    if (known) {
      return known;
    }
    // An account forgotten for room may have changes queued: the file holds them first.
    options.flush();
    const row = stored.get(accountId) as AccountBalance | undefined;
    if (row) {
      accounts.remember(accountId, row);
    }
    return row;
  }

  return {
    balanceOf,
    /** Posted less held; 0 for an account that does not exist yet. */
    availableMicro(accountId: string): bigint {
      const balance = balanceOf(accountId);
      return balance ? availableOf(balance) : 0n;
    },
    /** Applies a change this transaction makes (the caller queues it for the file). */
    add(accountId: string, column: GuardedColumn, amountMicro: bigint): void {
      const balance = balanceOf(accountId);
      assert(balance, `no account ${accountId}`);
      balance[column] += amountMicro;
    },
    /** An account's balance read with others (a tenant's grants), unless memory has it already. */
    learn(accountId: string, balance: AccountBalance): AccountBalance {
      const known = accounts.get(accountId);
      if (known) {
        return known;
      }
      accounts.remember(accountId, balance);
      return balance;
    },
    /** Forgets every balance: a rollback undid changes, or another connection wrote the file. */
    forgetAll(): void {
      accounts.clear();
    },
    /** Each account whose memory differs from the file (written up to date first). */
    disagreements(): string[] {
      options.flush();
      const problems: string[] = [];
      for (const [accountId, balance] of accounts.entries()) {
        const row = stored.get(accountId) as AccountBalance | undefined;
        if (!row || !sameBalance(row, balance)) {
          problems.push(`the in-memory balance of ${accountId} differs from the store`);
        }
      }
      return problems;
    },
  };
}
