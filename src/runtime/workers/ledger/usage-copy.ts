/**
 * The copy of a tenant's usage records in D1: what the operator reports and queries across
 * tenants (`wrangler d1 execute`), and the per-day totals `/v1/account` reads (the table's
 * trigger keeps them in D1 as in every SQLite store). The records themselves are written in the
 * tenant's object, in the transaction that moves the money; this copies them afterwards in
 * insertion order (rowid: records are never deleted), remembering in the object how far it got.
 * A batch D1 applied but the object did not note is sent again, and lands once: each row is
 * inserted only if its request id is not there yet, so the totals count it once too. Verified
 * recounts, the one change made to a stored record, are off on Workers (workers-deps.ts).
 */
import { assert } from '../../../assert.ts';
import type { Limits } from '../../../config.ts';
import type { Logger } from '../../../platform/logger.ts';
import type { DurableSql, SqlRow } from '../durable-sql.ts';
import type { D1Database, SqlStorageValue } from '../workers-types.ts';

/** How far the copy got, as kept in the object's storage. */
export type CopyMark = {
  read(): Promise<number>;
  write(rowid: number): Promise<void>;
};

export type UsageCopy = {
  /** True when records were written since the last copy. */
  pending(): Promise<boolean>;
  /** Copies up to `batchMax` records in one D1 batch; returns how many it copied. */
  copyBatch(batchMax: number): Promise<number>;
};

/** One record as an insert that leaves a record already copied as it is. */
function insertOnce(target: D1Database, row: SqlRow) {
  const columns = Object.keys(row);
  assert(columns.length > 0, 'a usage record has columns');
  const values: SqlStorageValue[] = Object.values(row);
  return target
    .prepare(
      `INSERT INTO usage_records (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
       ON CONFLICT (request_id) DO NOTHING`,
    )
    .bind(...values);
}

export function createUsageCopy(source: DurableSql, target: D1Database, mark: CopyMark): UsageCopy {
  return {
    async pending() {
      const after = await mark.read();
      return (
        source.first('SELECT 1 AS found FROM usage_records WHERE rowid > ? LIMIT 1', after) !==
        undefined
      );
    },
    async copyBatch(batchMax) {
      const after = await mark.read();
      const rows = source.all(
        'SELECT rowid AS copy_rowid, * FROM usage_records WHERE rowid > ? ORDER BY rowid LIMIT ?',
        after,
        batchMax,
      );
      if (rows.length === 0) {
        return 0;
      }
      const statements = rows.map(({ copy_rowid: _rowid, ...record }) =>
        insertOnce(target, record),
      );
      await target.batch(statements);
      const last = Number(rows.at(-1)?.copy_rowid);
      assert(Number.isSafeInteger(last) && last > after, 'the copy moves forward');
      await mark.write(last);
      return rows.length;
    },
  };
}

/** Batches one ring of the object's alarm copies at most; a ring that leaves more rings again. */
const batchesPerRingMax = 20;

/**
 * Copies records until none is left or the ring copied its most; returns when to copy again, if
 * anything is left. D1 unreachable or refusing (a migration not applied yet) is logged and tried
 * again `usageCopyRetryMs` later: the records are safe in the object meanwhile.
 */
export async function copyForOneRing(
  copy: UsageCopy,
  limits: Pick<Limits, 'usageCopyBatchMax' | 'usageCopyRetryMs'>,
  nowMs: number,
  logger: Logger,
): Promise<number | undefined> {
  try {
    for (let batch = 0; batch < batchesPerRingMax; batch += 1) {
      if ((await copy.copyBatch(limits.usageCopyBatchMax)) < limits.usageCopyBatchMax) {
        return undefined;
      }
    }
    return nowMs + 1;
  } catch (error) {
    logger.log('warn', 'usage_copy_failed', {
      error: error instanceof Error ? error.message : String(error),
    });
    return nowMs + limits.usageCopyRetryMs;
  }
}
