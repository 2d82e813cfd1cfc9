/**
 * Group commit for the SQLite ledger. Ledger operations queued during one event-loop turn run in
 * one IMMEDIATE transaction, each inside its own savepoint (better-sqlite3 nests transactions as
 * savepoints), so one failing operation never undoes the others; every caller hears back only
 * after the commit, so nothing is acknowledged before it is durable. One fsync-class commit then
 * carries many operations: the difference between ~10k and ~50k operations per second.
 */
import type Database from 'better-sqlite3';

type Queued = {
  body: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
};

export type GroupCommit = <Result>(body: () => Result) => Promise<Result>;

/** Most operations one transaction carries; more wait for the next turn. */
const batchSizeMax = 256;

export function createGroupCommit(connection: Database.Database): GroupCommit {
  let queue: Queued[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const batch = queue.slice(0, batchSizeMax);
    queue = queue.slice(batchSizeMax);
    if (queue.length > 0) {
      schedule();
    }
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      connection
        .transaction(() => {
          for (const operation of batch) {
            try {
              outcomes.push({ ok: true, value: connection.transaction(operation.body)() });
            } catch (error) {
              outcomes.push({ ok: false, error });
            }
          }
        })
        .immediate();
    } catch (error) {
      // The commit itself failed: nothing of the batch happened.
      for (const operation of batch) {
        operation.reject(error);
      }
      return;
    }
    batch.forEach((operation, index) => {
      const outcome = outcomes[index];
      if (outcome?.ok) {
        operation.resolve(outcome.value);
      } else {
        operation.reject(outcome?.error);
      }
    });
  };

  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };

  return <Result>(body: () => Result) =>
    new Promise<Result>((resolve, reject) => {
      queue.push({ body, resolve: resolve as (value: unknown) => void, reject });
      schedule();
    });
}
