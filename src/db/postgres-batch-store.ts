/**
 * The BatchStore over PostgreSQL (drizzle pg-core), for several replicas: a guarded UPDATE ...
 * RETURNING is the claim, so of two replicas racing for a line one gets it. Rows of
 * postgres-schema.ts are returned as the port's records, inferred from schema.ts: the compiler
 * checks the two schemas agree.
 */
import { and, asc, count, desc, eq, gt, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import { type BatchLineRecord, type BatchStore, openBatchStatuses } from './batch-store.ts';
import { batchStampOf, lineEndingChanges } from './batch-store-rows.ts';
import type { PostgresDatabase } from './postgres-catalog.ts';
import { batches, batchLines, gatewayInstances } from './postgres-schema.ts';

export function createPostgresBatchStore(database: PostgresDatabase): BatchStore {
  const inBatch = (batchId: string, lineIndex: number) =>
    and(eq(batchLines.batchId, batchId), eq(batchLines.lineIndex, lineIndex));
  const lineOrder = [asc(batchLines.lineIndex)];
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
      .limit(limit);
  return {
    insertBatch: async (batch) => {
      await database.insert(batches).values(batch);
    },
    getBatch: async (tenantId, batchId) =>
      (
        await database
          .select()
          .from(batches)
          .where(and(eq(batches.id, batchId), eq(batches.tenantId, tenantId)))
      )[0],
    listBatches: async (tenantId, page) => {
      const [cursor] =
        page.after === undefined
          ? []
          : await database
              .select({ createdAtMs: batches.createdAtMs })
              .from(batches)
              .where(and(eq(batches.id, page.after), eq(batches.tenantId, tenantId)));
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
        .limit(page.limit);
    },
    openBatchCount: async (tenantId) =>
      (
        await database
          .select({ open: count() })
          .from(batches)
          .where(
            and(eq(batches.tenantId, tenantId), inArray(batches.status, [...openBatchStatuses])),
          )
      )[0]?.open ?? 0,
    batchesInStatus: async (statuses, limit) =>
      database
        .select()
        .from(batches)
        .where(inArray(batches.status, [...statuses]))
        .orderBy(asc(batches.expiresAtMs), asc(batches.id))
        .limit(limit),
    transition: async (batchId, from, transition) =>
      (
        await database
          .update(batches)
          .set({ ...transition.changes, status: transition.to, ...batchStampOf(transition) })
          .where(and(eq(batches.id, batchId), inArray(batches.status, [...from])))
          .returning({ id: batches.id })
      ).length === 1,
    startBatch: async (batchId, lines, atMs) =>
      database.transaction(async (transaction) => {
        const started = await transaction
          .update(batches)
          .set({ status: 'in_progress', inProgressAtMs: atMs, requestTotal: lines.length })
          .where(and(eq(batches.id, batchId), eq(batches.status, 'validating')))
          .returning({ id: batches.id });
        if (started.length !== 1) {
          return false;
        }
        for (let start = 0; start < lines.length; start += insertChunkLines) {
          await transaction.insert(batchLines).values(
            lines.slice(start, start + insertChunkLines).map((line) => ({
              ...line,
              batchId,
              status: 'pending' as const,
            })),
          );
        }
        return true;
      }),
    pendingLines: async (batchId, afterIndex, limit) =>
      linesIn(batchId, ['pending'], afterIndex, limit),
    claimLine: async (batchId, lineIndex, instanceId, atMs) =>
      (
        await database
          .update(batchLines)
          .set({ status: 'running', runnerInstanceId: instanceId, startedAtMs: atMs })
          .where(and(inBatch(batchId, lineIndex), eq(batchLines.status, 'pending')))
          .returning({ lineIndex: batchLines.lineIndex })
      ).length === 1,
    unclaimLine: async (batchId, lineIndex) => {
      await database
        .update(batchLines)
        .set({ status: 'pending', runnerInstanceId: null, startedAtMs: null })
        .where(and(inBatch(batchId, lineIndex), eq(batchLines.status, 'running')));
    },
    endLine: async (batchId, lineIndex, ending, atMs) =>
      database.transaction(async (transaction) => {
        const ended = await transaction
          .update(batchLines)
          .set({ ...ending, endedAtMs: atMs })
          .where(and(inBatch(batchId, lineIndex), eq(batchLines.status, 'running')))
          .returning({ lineIndex: batchLines.lineIndex });
        if (ended.length !== 1) {
          return false;
        }
        await transaction
          .update(batches)
          .set(lineEndingChanges(batches, ending))
          .where(eq(batches.id, batchId));
        return true;
      }),
    failPendingLines: async (batchId, result, atMs) =>
      database.transaction(async (transaction) => {
        const failed = (
          await transaction
            .update(batchLines)
            .set({ status: 'failed', result, endedAtMs: atMs })
            .where(and(eq(batchLines.batchId, batchId), eq(batchLines.status, 'pending')))
            .returning({ lineIndex: batchLines.lineIndex })
        ).length;
        await transaction
          .update(batches)
          .set({ requestFailed: sql`${batches.requestFailed} + ${failed}` })
          .where(eq(batches.id, batchId));
        return failed;
      }),
    orphanedLines: async (batchId, owner) =>
      (
        await database
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
          .orderBy(...lineOrder)
      ).map((row) => row.line),
    runningCount: async (batchId) =>
      (
        await database
          .select({ running: count() })
          .from(batchLines)
          .where(and(eq(batchLines.batchId, batchId), eq(batchLines.status, 'running')))
      )[0]?.running ?? 0,
    endedLines: async (batchId, afterIndex, limit) =>
      linesIn(batchId, ['succeeded', 'failed'], afterIndex, limit),
  };
}

/** Lines per INSERT: PostgreSQL binds at most 65,535 parameters in one statement. */
const insertChunkLines = 500;
