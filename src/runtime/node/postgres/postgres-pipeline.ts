/**
 * Statements sent back to back on one connection: one write and one round trip for the lot,
 * instead of one of each per statement. On the 2-core bench machine a round trip to a local
 * server costs far more in syscalls and wake-ups (tens of µs each side) than the statements do,
 * and the ledger's money movements hold their tenant's lock across them.
 *
 * node-postgres (8.23+) with `pipeline: true` writes a query without waiting for the answer to
 * the one before (https://node-postgres.com/features/pipelining); corking the socket around the
 * batch makes it one write. The server still runs the statements one after the other, in order,
 * each behind its own Sync, so each starts (and, under READ COMMITTED, takes its snapshot) after
 * the one before it finished: a statement behind a `SELECT ... FOR UPDATE` sees everything
 * committed before that lock was granted. A statement that fails does not keep the ones behind
 * it from being answered; inside a transaction they fail too, the transaction being aborted.
 * On a client without pipelining the statements simply go one at a time.
 */
import type pg from 'pg';

/** Runs the statements in order; resolves with their results, or throws the first failure. */
export async function runPipelined(
  client: pg.PoolClient,
  statements: readonly pg.QueryConfig[],
): Promise<pg.QueryResult[]> {
  if (!client.pipeline) {
    const results: pg.QueryResult[] = [];
    for (const statement of statements) {
      results.push(await client.query(statement));
    }
    return results;
  }
  const { stream } = client.connection;
  stream.cork();
  let answers: Promise<pg.QueryResult>[];
  try {
    answers = statements.map((statement) => client.query(statement));
  } finally {
    stream.uncork();
  }
  // Every answer is awaited, so none is left rejected and unhandled behind the first failure.
  const outcomes = await Promise.allSettled(answers);
  const results: pg.QueryResult[] = [];
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') {
      throw outcome.reason;
    }
    results.push(outcome.value);
  }
  return results;
}
