/**
 * The BatchStore port: batches and their lines, durable, so the cross-cycle scheduler resumes
 * where it stopped after a crash. Every change of a line's status is guarded by the status it
 * leaves (a line is claimed once, ends once), and moves the batch's counters and totals in the
 * same transaction. Each store (SQLite now, PostgreSQL for several replicas) implements it; row
 * types come from the drizzle schema.
 */
import type { StoredLineResult } from './enums.ts';
import type { batches, batchLines } from './schema.ts';

export type BatchRecord = typeof batches.$inferSelect;
export type BatchLineRecord = typeof batchLines.$inferSelect;
export type BatchStatus = BatchRecord['status'];

/** A line as validation read it from the input file. */
export type NewBatchLine = Pick<BatchLineRecord, 'lineIndex' | 'customId' | 'model' | 'body'>;

/**
 * What a line's answer was: `{response, error}` of its line in the output or error file (the id
 * and custom_id are the line's own).
 */
export type LineResult = StoredLineResult;

/** How a line ended: its result, and what it used and cost. */
export type LineEnding = {
  status: 'succeeded' | 'failed';
  result: LineResult;
  inputTokens: number | null;
  outputTokens: number | null;
  cost: bigint | null;
};

/** The times a status change stamps, by the status entered. */
export type BatchTransition = {
  to: BatchStatus;
  atMs: number;
  changes?: Partial<Pick<BatchRecord, 'errors' | 'outputFileId' | 'errorFileId' | 'requestTotal'>>;
};

export type BatchStore = {
  insertBatch(batch: BatchRecord): Promise<void>;
  getBatch(tenantId: string, batchId: string): Promise<BatchRecord | undefined>;
  /** Newest first, after the cursor id. */
  listBatches(
    tenantId: string,
    page: { limit: number; after?: string | undefined },
  ): Promise<BatchRecord[]>;
  /** Batches of the tenant that have not ended (validating, in progress, finalizing, cancelling). */
  openBatchCount(tenantId: string): Promise<number>;
  /** Batches in any of these statuses, soonest to expire first, for the scheduler. */
  batchesInStatus(statuses: readonly BatchStatus[], limit: number): Promise<BatchRecord[]>;
  /** Moves a batch from one of `from` to `transition.to`; false when it was in none of them. */
  transition(
    batchId: string,
    from: readonly BatchStatus[],
    transition: BatchTransition,
  ): Promise<boolean>;
  /** Validation passed: the lines are stored and the batch is in progress, at once. */
  startBatch(batchId: string, lines: readonly NewBatchLine[], atMs: number): Promise<boolean>;
  /** Pending lines in file order, from `afterIndex` on. */
  pendingLines(batchId: string, afterIndex: number, limit: number): Promise<BatchLineRecord[]>;
  /** Pending → running for this gateway; false when someone else had it. */
  claimLine(batchId: string, lineIndex: number, instanceId: string, atMs: number): Promise<boolean>;
  /** Running → pending: it never reached the ledger (no room, a rate limit), so it runs later. */
  unclaimLine(batchId: string, lineIndex: number): Promise<void>;
  /** Running → succeeded or failed, counted on the batch; false when it had already ended. */
  endLine(batchId: string, lineIndex: number, ending: LineEnding, atMs: number): Promise<boolean>;
  /** Ends every pending line of the batch with the same error (cancel, expiry, quota). */
  failPendingLines(batchId: string, result: LineResult, atMs: number): Promise<number>;
  /**
   * Lines left running by another gateway that stopped: one with no heartbeat since
   * `ownerSilentBeforeMs` (on a store one process owns, every other gateway is a predecessor).
   */
  orphanedLines(
    batchId: string,
    owner: { instanceId: string; ownerSilentBeforeMs: number },
  ): Promise<BatchLineRecord[]>;
  /** How many lines of the batch are running. */
  runningCount(batchId: string): Promise<number>;
  /** Ended lines in file order, from `afterIndex` on: the output and error files are built from them. */
  endedLines(batchId: string, afterIndex: number, limit: number): Promise<BatchLineRecord[]>;
};

/** The statuses of a batch that has not ended yet. */
export const openBatchStatuses = ['validating', 'in_progress', 'finalizing', 'cancelling'] as const;
