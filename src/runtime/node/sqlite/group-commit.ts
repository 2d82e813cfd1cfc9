/**
 * Group commit for the SQLite ledger. Ledger operations queued during one event-loop turn run in
 * one IMMEDIATE transaction; every caller hears back only after the commit, so nothing is
 * acknowledged before it is durable, and one commit carries many operations (the difference
 * between ~10k and ~50k operations per second).
 *
 * Batching pays only under load: a lone operation waiting for the end of the turn waits for
 * whatever else the turn runs (other sockets' reads, timers) and gains nothing. So while the
 * last batch carried at most one operation (concurrency around 1), the first operation of a turn
 * commits at once, on its own; any more in the same turn queue for the turn's batch, and once a
 * batch carries several, every operation queues again until the load falls.
 *
 * A batch first runs without savepoints, because operations almost never fail (they plan from
 * balances read in the same transaction). If one does throw, the whole batch rolls back and runs
 * again with each operation in its own savepoint, so one failure never undoes the others.
 * Deferred work (see ledger-effects.ts) shares the fate of the operation that deferred it:
 * written inside the transaction, applied in memory only after the commit, dropped on rollback.
 */
import type Database from 'better-sqlite3';
import type { LedgerEffects } from './ledger-effects.ts';

type Queued = {
  body: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
};

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export type GroupCommit = <Result>(body: () => Result) => Promise<Result>;

export type GroupCommitOptions = {
  /** Batch the operations of one event-loop turn; off (one transaction each) only to measure it. */
  batched: boolean;
  effects: LedgerEffects;
  /**
   * Writes what the operations deferred, inside the transaction: before it commits, and after
   * each operation when they run in savepoints (so a failing one drops only its own writes).
   */
  writeDeferred: () => void;
  /** Runs first in every transaction, holding the write lock (the ledger looks for others' writes). */
  beforeBatch?: () => void;
};

/** Most operations one transaction carries; more wait for the next turn. */
const batchSizeMax = 256;

export function createGroupCommit(
  connection: Database.Database,
  options: GroupCommitOptions,
): GroupCommit {
  const { effects } = options;
  let queue: Queued[] = [];

  const runAll = (batch: readonly Queued[], withSavepoints: boolean): Outcome[] => {
    const outcomes: Outcome[] = [];
    connection
      .transaction(() => {
        options.beforeBatch?.();
        for (const operation of batch) {
          if (!withSavepoints) {
            outcomes.push({ ok: true, value: operation.body() });
            continue;
          }
          const mark = effects.mark();
          try {
            const value = connection.transaction(() => {
              const result = operation.body();
              options.writeDeferred();
              return result;
            })();
            outcomes.push({ ok: true, value });
          } catch (error) {
            effects.rollbackTo(mark);
            outcomes.push({ ok: false, error });
          }
        }
        options.writeDeferred();
      })
      .immediate();
    return outcomes;
  };

  /** The outcomes of the batch, or the error that stopped the whole of it. */
  const commit = (batch: readonly Queued[]): Outcome[] | { failed: unknown } => {
    try {
      return runAll(batch, false);
    } catch (error) {
      effects.discard();
      if (batch.length === 1) {
        return [{ ok: false, error }];
      }
    }
    try {
      return runAll(batch, true);
    } catch (error) {
      effects.discard();
      return { failed: error };
    }
  };

  const run = (batch: readonly Queued[]) => {
    const outcomes = commit(batch);
    if (!Array.isArray(outcomes)) {
      // The commit itself failed: nothing of the batch happened.
      for (const operation of batch) {
        operation.reject(outcomes.failed);
      }
      return;
    }
    effects.committed();
    batch.forEach((operation, index) => {
      const outcome = outcomes[index];
      if (outcome?.ok) {
        operation.resolve(outcome.value);
      } else {
        operation.reject(outcome?.error);
      }
    });
  };

  /** Whether the turn's batch is already scheduled (or the turn's first operation ran alone). */
  let turnOpen = false;
  /** Operations the last batch carried; more than one means requests overlap. */
  let lastBatchSize = 0;

  const flush = () => {
    turnOpen = false;
    const batch = queue.slice(0, batchSizeMax);
    queue = queue.slice(batchSizeMax);
    lastBatchSize = batch.length;
    if (queue.length > 0) {
      openTurn();
    }
    if (batch.length > 0) {
      run(batch);
    }
  };

  const openTurn = () => {
    turnOpen = true;
    setImmediate(flush);
  };

  const submit = (operation: Queued) => {
    if (!options.batched) {
      run([operation]);
      return;
    }
    if (!turnOpen && lastBatchSize <= 1) {
      // Alone so far: commit now, and batch whatever else this turn brings.
      openTurn();
      run([operation]);
      return;
    }
    queue.push(operation);
    if (!turnOpen) {
      openTurn();
    }
  };

  return <Result>(body: () => Result) =>
    new Promise<Result>((resolve, reject) => {
      submit({ body, resolve: resolve as (value: unknown) => void, reject });
    });
}
