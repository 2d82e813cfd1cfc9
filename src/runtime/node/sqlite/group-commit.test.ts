import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { createGroupCommit } from './group-commit.ts';
import { createLedgerEffects } from './ledger-effects.ts';

/** A group commit over an in-memory table, counting the transactions it opens. */
function harness() {
  const connection = new Database(':memory:');
  connection.exec('create table rows (value integer not null)');
  const transactions = vi.spyOn(connection, 'transaction');
  const commit = createGroupCommit(connection, {
    batched: true,
    effects: createLedgerEffects(),
    writeDeferred: () => {},
  });
  const insert = connection.prepare('insert into rows (value) values (?)');
  const write = (value: number) =>
    commit(() => {
      insert.run(value);
      return value;
    });
  const stored = () =>
    connection.prepare('select value from rows order by rowid').pluck().all() as number[];
  return { transactions, commit, write, stored };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('group commit', () => {
  it('commits a lone operation at once, without waiting for the end of the turn', async () => {
    const { transactions, write, stored } = harness();
    const written = write(1);
    // Its write is in the file before the caller even awaits it.
    expect(stored()).toEqual([1]);
    expect(await written).toBe(1);
    await nextTurn();
    const second = write(2);
    expect(stored()).toEqual([1, 2]);
    expect(await second).toBe(2);
    expect(transactions).toHaveBeenCalledTimes(2);
  });

  it('batches what overlaps into one transaction per turn, and goes back to at once when load falls', async () => {
    const { transactions, write, stored } = harness();
    // A burst: the first commits at once, the other nine in the turn's one batch.
    const burst = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(write);
    expect(stored()).toEqual([1]);
    expect(await Promise.all(burst)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(transactions).toHaveBeenCalledTimes(2);
    // Under load, every operation of a turn waits for its batch: one transaction for ten.
    const loaded = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20].map(write);
    expect(stored()).toHaveLength(10);
    expect(await Promise.all(loaded)).toHaveLength(10);
    expect(transactions).toHaveBeenCalledTimes(3);
    // One operation in a turn: its batch carries one, so the next commits at once again.
    await write(21);
    expect(transactions).toHaveBeenCalledTimes(4);
    const alone = write(22);
    expect(stored()).toHaveLength(22);
    await alone;
    expect(stored()).toEqual(Array.from({ length: 22 }, (_, index) => index + 1));
  });

  it('rejects only the operation that fails, alone as in a batch', async () => {
    const { commit, write, stored } = harness();
    const refuse = () =>
      commit(() => {
        throw new Error('refused');
      });
    await expect(refuse()).rejects.toThrow('refused');
    await nextTurn();
    const burst = [write(1), refuse(), write(2), refuse(), write(3)];
    const outcomes = await Promise.allSettled(burst);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect(stored()).toEqual([1, 2, 3]);
  });
});
