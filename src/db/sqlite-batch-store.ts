/**
 * The BatchStore over a synchronous drizzle SQLite database: one process owns the file, so a
 * guarded UPDATE in a transaction is the whole of "a line is claimed once, ends once".
 */
import { and, asc, count, desc, eq, gt, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import { type BatchLineRecord, type BatchStore, openBatchStatuses } from './batch-store.ts';
import { batchStampOf, lineEndingChanges } from './batch-store-rows.ts';
import type { SqliteDatabase } from './portable-sqlite.ts';
import { batches, batchLines, gatewayInstances } from './schema.ts';

export function createSqliteBatchStore(database: SqliteDatabase): BatchStore {
  const inBatch = (batchId: string, lineIndex: number) =>
    and(eq(batchLines.batchId, batchId), eq(batchLines.lineIndex, lineIndex));
  /** Lines of the batch in these statuses, in file order, from `afterIndex` on. */
  const linesIn = async (
    batchId: string,
    statuses: BatchLineRecord['status'][],
    afterIndex: number,
    limit: number,
  ) =>
    database
      .select()
      .from(batchLines)
      .where(
        and(
          eq(batchLines.batchId, batchId),
          inArray(batchLines.status, statuses),
          gt(batchLines.lineIndex, afterIndex),
        ),
      )
      .orderBy(asc(batchLines.lineIndex))
      .limit(limit)
      .all();
  return {
    insertBatch: async (batch) => {
      database.insert(batches).values(batch).run();
    },
    getBatch: async (tenantId, batchId) =>
      database
        .select()
        .from(batches)
        .where(and(eq(batches.id, batchId), eq(batches.tenantId, tenantId)))
        .get(),
    listBatches: async (tenantId, page) => {
      const cursor =
        page.after === undefined
          ? undefined
          : database
              .select({ createdAtMs: batches.createdAtMs })
              .from(batches)
              .where(and(eq(batches.id, page.after), eq(batches.tenantId, tenantId)))
              .get();
      return database
        .select()
        .from(batches)
        .where(
          and(
            eq(batches.tenantId, tenantId),
            cursor === undefined
              ? undefined
              : or(
                  lt(batches.createdAtMs, cursor.createdAtMs),
                  and(
                    eq(batches.createdAtMs, cursor.createdAtMs),
                    lt(batches.id, page.after ?? ''),
                  ),
                ),
          ),
        )
        .orderBy(desc(batches.createdAtMs), desc(batches.id))
        .limit(page.limit)
        .all();
    },
    openBatchCount: async (tenantId) =>
      database
        .select({ open: count() })
        .from(batches)
        .where(and(eq(batches.tenantId, tenantId), inArray(batches.status, [...openBatchStatuses])))
        .get()?.open ?? 0,
    batchesInStatus: async (statuses, limit) =>
      database
        .select()
        .from(batches)
        .where(inArray(batches.status, [...statuses]))
        .orderBy(asc(batches.expiresAtMs), asc(batches.id))
        .limit(limit)
        .all(),
    transition: async (batchId, from, transition) =>
      database
        .update(batches)
        .set({ ...transition.changes, status: transition.to, ...batchStampOf(transition) })
        .where(and(eq(batches.id, batchId), inArray(batches.status, [...from])))
        .returning({ id: batches.id })
        .all().length === 1,
    startBatch: async (batchId, lines, atMs) =>
      database.transaction((transaction) => {
        const started = transaction
          .update(batches)
          .set({ status: 'in_progress', inProgressAtMs: atMs, requestTotal: lines.length })
          .where(and(eq(batches.id, batchId), eq(batches.status, 'validating')))
          .returning({ id: batches.id })
          .all();
        if (started.length !== 1) {
          return false;
        }
        for (let start = 0; start < lines.length; start += insertChunkLines) {
          transaction
            .insert(batchLines)
            .values(
              lines.slice(start, start + insertChunkLines).map((line) => ({
                ...line,
                batchId,
                status: 'pending' as const,
              })),
            )
            .run();
        }
        return true;
      }),
    pendingLines: async (batchId, afterIndex, limit) =>
      linesIn(batchId, ['pending'], afterIndex, limit),
    claimLine: async (batchId, lineIndex, instanceId, atMs) =>
      database
        .update(batchLines)
        .set({ status: 'running', runnerInstanceId: instanceId, startedAtMs: atMs })
        .where(and(inBatch(batchId, lineIndex), eq(batchLines.status, 'pending')))
        .returning({ lineIndex: batchLines.lineIndex })
        .all().length === 1,
    unclaimLine: async (batchId, lineIndex) => {
      database
        .update(batchLines)
        .set({ status: 'pending', runnerInstanceId: null, startedAtMs: null })
        .where(and(inBatch(batchId, lineIndex), eq(batchLines.status, 'running')))
        .run();
    },
    endLine: async (batchId, lineIndex, ending, atMs) =>
      database.transaction((transaction) => {
        const ended = transaction
          .update(batchLines)
          .set({ ...ending, endedAtMs: atMs })
          .where(and(inBatch(batchId, lineIndex), eq(batchLines.status, 'running')))
          .returning({ lineIndex: batchLines.lineIndex })
          .all();
        if (ended.length !== 1) {
          return false;
        }
        transaction
          .update(batches)
          .set(lineEndingChanges(batches, ending))
          .where(eq(batches.id, batchId))
          .run();
        return true;
      }),
    failPendingLines: async (batchId, result, atMs) =>
      database.transaction((transaction) => {
        const failed = transaction
          .update(batchLines)
          .set({ status: 'failed', result, endedAtMs: atMs })
          .where(and(eq(batchLines.batchId, batchId), eq(batchLines.status, 'pending')))
          .returning({ lineIndex: batchLines.lineIndex })
          .all().length;
        transaction
          .update(batches)
          .set({ requestFailed: sql`${batches.requestFailed} + ${failed}` })
          .where(eq(batches.id, batchId))
          .run();
        return failed;
      }),
    orphanedLines: async (batchId, owner) =>
      database
        .select({ line: batchLines })
        .from(batchLines)
        .leftJoin(gatewayInstances, eq(gatewayInstances.id, batchLines.runnerInstanceId))
        .where(
          and(
            eq(batchLines.batchId, batchId),
            eq(batchLines.status, 'running'),
            ne(batchLines.runnerInstanceId, owner.instanceId),
            or(
              isNull(gatewayInstances.id),
              lt(gatewayInstances.heartbeatAtMs, owner.ownerSilentBeforeMs),
            ),
          ),
        )
        .orderBy(asc(batchLines.lineIndex))
        .all()
        .map((row) => row.line),
    runningCount: async (batchId) =>
      database
        .select({ running: count() })
        .from(batchLines)
        .where(and(eq(batchLines.batchId, batchId), eq(batchLines.status, 'running')))
        .get()?.running ?? 0,
    endedLines: async (batchId, afterIndex, limit) =>
      linesIn(batchId, ['succeeded', 'failed'], afterIndex, limit),
  };
}

/** Lines per INSERT: SQLite binds at most 32,766 variables in one statement. */
const insertChunkLines = 500;
