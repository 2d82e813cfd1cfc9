import { describe, expect, it } from 'vitest';
import { migrateSqlite, openSqlite } from './sqlite-database.ts';
import { createTenantBalances } from './tenant-balances.ts';

/** Two wallets in a migrated in-memory store; `queued` stands for the ledger's deferred writes. */
function harness(accountsMax: number) {
  const opened = openSqlite(':memory:');
  migrateSqlite(opened);
  const { connection } = opened;
  connection.exec(`INSERT INTO accounts (id, kind, owner_id, no_overdraft, debits_posted,
      credits_posted, debits_pending, credits_pending)
    VALUES ('wallet:a', 'wallet', 'a', 1, 0, 100, 0, 0), ('wallet:b', 'wallet', 'b', 1, 0, 50, 0, 0)`);
  const queued: { accountId: string; amountMicro: bigint }[] = [];
  const writeCredit = connection.prepare(
    'UPDATE accounts SET credits_posted = credits_posted + ? WHERE id = ?',
  );
  let flushes = 0;
  const balances = createTenantBalances(connection, {
    accountsMax,
    flush: () => {
      flushes += 1;
      for (const { accountId, amountMicro } of queued.splice(0)) {
        writeCredit.run(amountMicro, accountId);
      }
    },
  });
  /** A credit as the ledger makes it: memory at once, the file at the next flush. */
  const credit = (accountId: string, amountMicro: bigint) => {
    balances.add(accountId, 'credits_posted', amountMicro);
    queued.push({ accountId, amountMicro });
  };
  const writeBehindMemory = (accountId: string, amountMicro: bigint) =>
    writeCredit.run(amountMicro, accountId);
  return { balances, credit, writeBehindMemory, flushes: () => flushes };
}

describe('tenant balances in memory', () => {
  it('reads an account once, then answers from memory as it changes', () => {
    const { balances, credit, flushes } = harness(10);
    expect(balances.availableMicro('wallet:a')).toBe(100n);
    credit('wallet:a', 5n);
    balances.add('wallet:a', 'debits_pending', 30n);
    expect(balances.availableMicro('wallet:a')).toBe(75n);
    expect(balances.balanceOf('wallet:a')?.debits_pending).toBe(30n);
    expect(flushes()).toBe(1);
    expect(balances.availableMicro('wallet:missing')).toBe(0n);
    expect(() => balances.add('wallet:missing', 'credits_posted', 1n)).toThrow(/no account/);
  });

  it('writes queued changes before reading an account it had to forget for room', () => {
    const { balances, credit } = harness(1);
    credit('wallet:a', 7n);
    // Remembering b forgets a, whose change is still queued: the file gets it before a is read.
    expect(balances.availableMicro('wallet:b')).toBe(50n);
    expect(balances.availableMicro('wallet:a')).toBe(107n);
  });

  it('reports an account whose memory differs from the file, and reads it afresh once forgotten', () => {
    const { balances, writeBehindMemory } = harness(10);
    expect(balances.availableMicro('wallet:a')).toBe(100n);
    expect(balances.disagreements()).toEqual([]);
    writeBehindMemory('wallet:a', 20n);
    expect(balances.disagreements()).toEqual([
      'the in-memory balance of wallet:a differs from the store',
    ]);
    balances.forgetAll();
    expect(balances.availableMicro('wallet:a')).toBe(120n);
    expect(balances.disagreements()).toEqual([]);
  });

  it('keeps what memory knows over a balance read with others', () => {
    const { balances, credit } = harness(10);
    credit('wallet:a', 1n);
    const stale = { credits_posted: 100n, debits_posted: 0n, debits_pending: 0n };
    expect(balances.learn('wallet:a', stale).credits_posted).toBe(101n);
    expect(balances.learn('wallet:b', { ...stale, credits_posted: 50n }).credits_posted).toBe(50n);
  });
});
