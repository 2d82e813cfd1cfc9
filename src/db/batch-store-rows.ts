/**
 * What both batch stores write the same way: the time a status change stamps, and how a line's
 * ending moves its batch's counters and totals (added in SQL, in the line's own transaction, so
 * two lines ending at once both count).
 */
import { type AnyColumn, type SQL, sql } from 'drizzle-orm';
import type { BatchRecord, BatchTransition, LineEnding } from './batch-store.ts';

const stampOf = {
  validating: undefined,
  in_progress: 'inProgressAtMs',
  failed: 'failedAtMs',
  finalizing: 'finalizingAtMs',
  completed: 'completedAtMs',
  expired: 'expiredAtMs',
  cancelling: 'cancellingAtMs',
  cancelled: 'cancelledAtMs',
} as const satisfies Record<BatchRecord['status'], keyof BatchRecord | undefined>;

/** `{ completedAtMs: atMs }` for a move to completed, and so on. */
export function batchStampOf(transition: BatchTransition): Partial<BatchRecord> {
  const column = stampOf[transition.to];
  return column === undefined ? {} : { [column]: transition.atMs };
}

type CountedColumns = Record<
  'requestCompleted' | 'requestFailed' | 'inputTokens' | 'outputTokens' | 'cost',
  AnyColumn
>;

/** The batch's counters after one more line ended this way. */
export function lineEndingChanges(
  columns: CountedColumns,
  ending: LineEnding,
): Record<string, SQL> {
  const counted = ending.status === 'succeeded' ? 'requestCompleted' : 'requestFailed';
  return {
    [counted]: sql`${columns[counted]} + 1`,
    inputTokens: sql`${columns.inputTokens} + ${ending.inputTokens ?? 0}`,
    outputTokens: sql`${columns.outputTokens} + ${ending.outputTokens ?? 0}`,
    cost: sql`${columns.cost} + ${String(ending.cost ?? 0n)}`,
  };
}
