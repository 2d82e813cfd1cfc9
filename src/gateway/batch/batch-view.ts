/**
 * The batch object as OpenAI's Batch API writes it (times in Unix seconds, null when not yet),
 * plus what a bank adds: `usage` summed over the lines that ran and `cost`, a decimal string.
 */
import { formatMoney } from '../../billing/money.ts';
import type { BatchRecord } from '../../db/batch-store.ts';

function seconds(epochMs: number | null): number | null {
  return epochMs === null ? null : Math.floor(epochMs / 1000);
}

export function batchView(batch: BatchRecord) {
  return {
    id: batch.id,
    object: 'batch' as const,
    endpoint: batch.endpoint,
    errors: batch.errors === null ? null : { object: 'list' as const, data: batch.errors },
    input_file_id: batch.inputFileId,
    completion_window: batch.completionWindow,
    status: batch.status,
    output_file_id: batch.outputFileId,
    error_file_id: batch.errorFileId,
    created_at: Math.floor(batch.createdAtMs / 1000),
    in_progress_at: seconds(batch.inProgressAtMs),
    expires_at: seconds(batch.expiresAtMs),
    finalizing_at: seconds(batch.finalizingAtMs),
    completed_at: seconds(batch.completedAtMs),
    failed_at: seconds(batch.failedAtMs),
    expired_at: seconds(batch.expiredAtMs),
    cancelling_at: seconds(batch.cancellingAtMs),
    cancelled_at: seconds(batch.cancelledAtMs),
    request_counts: {
      total: batch.requestTotal,
      completed: batch.requestCompleted,
      failed: batch.requestFailed,
    },
    usage: {
      input_tokens: batch.inputTokens,
      output_tokens: batch.outputTokens,
      total_tokens: batch.inputTokens + batch.outputTokens,
    },
    cost: formatMoney(batch.cost),
    metadata: batch.metadata,
  };
}
