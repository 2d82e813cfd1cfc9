/**
 * One PostgreSQL transaction on a dedicated pooled connection, retried when the server aborts it
 * for a serialization failure (40001) or a deadlock (40P01): the body runs again from the start,
 * with the same input (the same request id), at most `retryCountMax` more times. Any other error
 * rolls back and propagates. A connection that failed mid-way is destroyed, not returned.
 *
 * On a pipelined connection (postgres-pipeline.ts) neither BEGIN nor COMMIT costs a round trip
 * of its own. The BEGIN goes out in one write with the statements the body sends first, and the
 * server runs it before them; those would run outside any transaction should the BEGIN fail, so
 * the body is handed `begun`, which settles before any answer to them arrives, and awaits it
 * before its first write (reads made meanwhile are thrown away with the attempt). A body may send
 * its last statements with the COMMIT behind them (`commitWith`): the server commits only if
 * none of them failed (a failure aborts the transaction and turns the COMMIT into a rollback),
 * so whatever must hold for the transaction to commit is checked by those statements on the
 * server, not after their answers. Every COMMIT's answer is checked: a transaction the server
 * rolled back instead never passes for committed.
 */
import type pg from 'pg';
import { assert } from '../../../assert.ts';
import { runPipelined } from './postgres-pipeline.ts';

export type TransactionOptions = {
  retryCountMax: number;
  /** READ COMMITTED with explicit row locks for writes; REPEATABLE READ for consistent reads. */
  isolation: 'read committed' | 'repeatable read';
  readOnly: boolean;
  /**
   * Plan every statement of the transaction generically (`SET LOCAL plan_cache_mode`), for
   * statements that look rows up by key, where the generic plan is the custom one. Left to
   * itself the server kept planning some of the ledger's statements again on most executions
   * under the bench's write load (`= ANY($1)` always; others after each autovacuum of the
   * fast-growing tables): about a tenth of its CPU.
   */
  genericPlans?: boolean;
};

/** What a transaction's body is handed besides its connection. */
export type TransactionSteps = {
  /** Resolves once the server has opened the transaction: awaited before the first write. */
  begun: Promise<void>;
  /**
   * Sends `statements` and the COMMIT in one batch and resolves with their results once it did
   * commit; throws the first failure otherwise. Nothing may be sent after it.
   */
  commitWith(statements: readonly pg.QueryConfig[]): Promise<pg.QueryResult[]>;
};

export type TransactionBody<Result> = (
  client: pg.PoolClient,
  steps: TransactionSteps,
) => Promise<Result>;

const retryableCodes = new Set(['40001', '40P01']);

export function isRetryableConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && retryableCodes.has(code);
}

/** Thrown when every allowed attempt met a conflict; `cause` is the last one. */
export class TransactionConflictError extends Error {
  override name = 'TransactionConflictError';
}

/** One simple query: a BEGIN in it opens a transaction that outlives the query. */
function beginStatement(options: TransactionOptions): string {
  const begin = `BEGIN ISOLATION LEVEL ${options.isolation.toUpperCase()}${options.readOnly ? ' READ ONLY' : ''}`;
  return options.genericPlans === true
    ? `${begin}; SET LOCAL plan_cache_mode = force_generic_plan`
    : begin;
}

/** Sends BEGIN and starts the body; on a pipelined connection both leave in one write. */
async function begin<Result>(
  client: pg.PoolClient,
  options: TransactionOptions,
  start: (begun: Promise<void>) => Promise<Result>,
): Promise<{ running: Promise<Result>; begun: Promise<void> }> {
  if (!client.pipeline) {
    await client.query(beginStatement(options));
    const begun = Promise.resolve();
    return { running: start(begun), begun };
  }
  const { stream } = client.connection;
  stream.cork();
  try {
    const begun = client.query(beginStatement(options)).then(() => undefined);
    // Handled here so a failed BEGIN is never an unhandled rejection; awaited below.
    begun.catch(() => undefined);
    // The body's statements sent before its first await join the BEGIN in the corked write.
    return { running: start(begun), begun };
  } finally {
    stream.uncork();
  }
}

function checkCommitted(result: pg.QueryResult | undefined): void {
  // COMMIT of a transaction a failed statement aborted answers ROLLBACK, without an error.
  if (result?.command !== 'COMMIT') {
    throw new Error(`the transaction was rolled back instead of committed (${result?.command})`);
  }
}

async function attempt<Result>(
  pool: pg.Pool,
  options: TransactionOptions,
  body: TransactionBody<Result>,
): Promise<Result> {
  const client = await pool.connect();
  let broken: Error | undefined;
  let committed = false;
  const commitWith = async (statements: readonly pg.QueryConfig[]) => {
    assert(!committed, 'a transaction commits once');
    const results = await runPipelined(client, [...statements, { text: 'COMMIT' }]);
    checkCommitted(results.pop());
    committed = true;
    return results;
  };
  try {
    const { running, begun } = await begin(client, options, (begun) =>
      body(client, { begun, commitWith }),
    );
    // Both settle: a body failing because the BEGIN did still leaves `begun` awaited.
    const [result] = await Promise.all([running, begun]);
    if (!committed) {
      checkCommitted(await client.query('COMMIT'));
    }
    return result;
  } catch (error) {
    try {
      // After a failed `commitWith` the transaction is over already: this only warns.
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.release(broken);
  }
}

export async function inTransaction<Result>(
  pool: pg.Pool,
  options: TransactionOptions,
  body: TransactionBody<Result>,
): Promise<Result> {
  assert(Number.isSafeInteger(options.retryCountMax), 'a retry limit is an integer');
  assert(options.retryCountMax >= 0, 'a retry limit is not negative');
  let lastConflict: unknown;
  for (let attemptIndex = 0; attemptIndex <= options.retryCountMax; attemptIndex += 1) {
    try {
      return await attempt(pool, options, body);
    } catch (error) {
      if (!isRetryableConflict(error)) {
        throw error;
      }
      lastConflict = error;
    }
  }
  throw new TransactionConflictError(
    `transaction still conflicting after ${options.retryCountMax} retries`,
    { cause: lastConflict },
  );
}
