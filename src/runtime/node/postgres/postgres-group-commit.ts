/**
 * Group commit for the PostgreSQL ledger's hot operations (reserve, settle, release), as the
 * SQLite ledger does (src/runtime/node/sqlite/group-commit.ts). Operations queued while a group
 * is in flight, or during one event-loop turn, run in one transaction: one round trip locks every
 * tenant they touch (wallets in id order, then their coupons) and reads what each reads, the
 * operations run one after the other against that memory, and one round trip writes the journal
 * of them all and commits. So a replica pays two round trips, one BEGIN, one tenant lock and one
 * journal statement per group instead of per operation, and the tenant's lock is held once for
 * the group rather than queued for by each.
 *
 * Every caller hears back only after the commit. One operation's refusal never fails the others:
 * an operation that throws against memory (insufficient funds, a failed assertion) is undone back
 * to the mark taken before it (PostgresLedgerUnit.mark) and rejected alone. When the group's
 * transaction itself fails (a guard refused on the server, anything but a conflict, which is
 * retried whole), nothing of it was written, and each operation then runs alone, in its own
 * transaction, and hears its own outcome. An operation that cannot run against the group's load
 * (a settle of a reservation no longer open, whose answer needs more reads) also runs alone,
 * after the group. A group of one runs alone directly: at low concurrency nothing waits.
 */
import type pg from 'pg';
import type { TenantLock, UnitReads } from './postgres-ledger-loads.ts';
import { PostgresLedgerUnit } from './postgres-ledger-unit.ts';
import { inTransaction } from './postgres-transaction.ts';

/** An operation that may join a group. */
export type GroupedOperation<Result> = {
  lock: TenantLock;
  reads: UnitReads;
  /** Whether it can run against the group's load; when not, it runs alone after the group. */
  fits(unit: PostgresLedgerUnit): boolean;
  /** The operation against the group's unit: synchronous, so nothing interleaves with it. */
  run(unit: PostgresLedgerUnit): Result;
  /** The operation in a transaction of its own. */
  alone(): Promise<Result>;
};

export type GroupCommit = <Result>(operation: GroupedOperation<Result>) => Promise<Result>;

export type PostgresGroupCommitOptions = {
  retryCountMax: number;
  /** Shared accounts known to exist; those a group created are added once it committed. */
  knownAccountIds: Set<string>;
  /** Off, every operation runs alone at once: only to measure what grouping gains. */
  batched: boolean;
};

type Queued = {
  operation: GroupedOperation<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
};

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown } | { alone: true };

/** Most operations one group carries; more wait for the next. */
const groupSizeMax = 64;

/**
 * Groups of one replica in flight at once. Measured (bench/ledger/postgres-ledger-bench.ts, one
 * tenant, c=32): two or three in flight were no faster than one, their groups being smaller and
 * all of them queuing for the same tenant's lock; one keeps each group as large as the load.
 */
const groupsInFlightMax = 1;

export function createPostgresGroupCommit(
  pool: pg.Pool,
  options: PostgresGroupCommitOptions,
): GroupCommit {
  const { retryCountMax, knownAccountIds } = options;
  let queue: Queued[] = [];
  let scheduled = false;
  let inFlight = 0;

  const runGroup = async (group: readonly Queued[]): Promise<Outcome[]> => {
    const tenantIds = new Set<string>();
    const requestIds = new Set<string>();
    for (const { operation } of group) {
      if ('tenantId' in operation.lock) {
        tenantIds.add(operation.lock.tenantId);
      } else {
        requestIds.add(operation.lock.requestId);
      }
    }
    const { outcomes, createdIds } = await inTransaction(
      pool,
      { retryCountMax, isolation: 'read committed', readOnly: false, genericPlans: true },
      async (client, { begun, commitWith }) => {
        const unit = new PostgresLedgerUnit(client, knownAccountIds);
        // Sent before the first await: it leaves in the BEGIN's write (postgres-transaction.ts).
        await unit.loadGroup(
          [...tenantIds],
          [...requestIds],
          group.map(({ operation }) => operation.reads),
        );
        const outcomes = group.map(({ operation }) => runMarked(unit, operation));
        // Nothing is written unless the server did open the transaction.
        await begun;
        await unit.flushAndCommit(commitWith);
        return { outcomes, createdIds: unit.createdSharedAccountIds() };
      },
    );
    for (const id of createdIds) {
      knownAccountIds.add(id);
    }
    return outcomes;
  };

  const settle = async (group: readonly Queued[]) => {
    if (group.length === 1) {
      await runAlone(group);
      return;
    }
    let outcomes: Outcome[];
    try {
      outcomes = await runGroup(group);
    } catch {
      // Nothing of the group was written: each operation hears its own outcome alone.
      await runAlone(group);
      return;
    }
    const later: Queued[] = [];
    group.forEach((queued, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined || 'alone' in outcome) {
        later.push(queued);
      } else if (outcome.ok) {
        queued.resolve(outcome.value);
      } else {
        queued.reject(outcome.error);
      }
    });
    await runAlone(later);
  };

  const flush = () => {
    scheduled = false;
    if (inFlight >= groupsInFlightMax || queue.length === 0) {
      return;
    }
    const group = queue.slice(0, groupSizeMax);
    queue = queue.slice(groupSizeMax);
    inFlight += 1;
    void settle(group).finally(() => {
      inFlight -= 1;
      schedule();
    });
    schedule();
  };

  const schedule = () => {
    if (!scheduled && inFlight < groupsInFlightMax && queue.length > 0) {
      scheduled = true;
      setImmediate(flush);
    }
  };

  return <Result>(operation: GroupedOperation<Result>) =>
    new Promise<Result>((resolve, reject) => {
      if (!options.batched) {
        operation.alone().then(resolve, reject);
        return;
      }
      queue.push({
        operation: operation as GroupedOperation<unknown>,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      schedule();
    });
}

/** Runs one operation against the group's unit; undone alone when it throws. */
function runMarked(unit: PostgresLedgerUnit, operation: GroupedOperation<unknown>): Outcome {
  if (!operation.fits(unit)) {
    return { alone: true };
  }
  const mark = unit.mark();
  try {
    return { ok: true, value: operation.run(unit) };
  } catch (error) {
    unit.rollbackTo(mark);
    return { ok: false, error };
  }
}

/** Each operation in a transaction of its own, at once; each hears its own outcome. */
async function runAlone(group: readonly Queued[]): Promise<void> {
  await Promise.all(
    group.map(({ operation, resolve, reject }) => operation.alone().then(resolve, reject)),
  );
}
