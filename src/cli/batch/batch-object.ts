/**
 * The OpenAI batch object as `tokenbank batch` reads it: only the fields the CLI shows or acts
 * on, each lenient about absence (a field the gateway leaves out or nulls is shown as "-"), so
 * that fields added to the API never break the CLI and --json still prints the answer verbatim.
 * Also what a batch's status means for the command: whether it is over, and its exit status.
 */
import { z } from 'zod';
import { exitCodes } from '../admin/run-api-command.ts';

/** OpenAI's SDK has unix seconds; the contract's other times are RFC 3339. Either is shown. */
const timeSchema = z.union([z.number(), z.string()]).nullish();

const requestCountsSchema = z.object({
  total: z.number(),
  completed: z.number(),
  failed: z.number(),
});

const batchErrorSchema = z.object({
  code: z.string().nullish(),
  message: z.string().nullish(),
  line: z.number().nullish(),
  param: z.string().nullish(),
});

export const batchSchema = z.object({
  id: z.string(),
  status: z.string(),
  endpoint: z.string().nullish(),
  input_file_id: z.string().nullish(),
  output_file_id: z.string().nullish(),
  error_file_id: z.string().nullish(),
  request_counts: requestCountsSchema.nullish(),
  created_at: timeSchema,
  in_progress_at: timeSchema,
  finalizing_at: timeSchema,
  completed_at: timeSchema,
  failed_at: timeSchema,
  expired_at: timeSchema,
  cancelling_at: timeSchema,
  cancelled_at: timeSchema,
  expires_at: timeSchema,
  errors: z.object({ data: z.array(batchErrorSchema) }).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  usage: z
    .object({
      input_tokens: z.number().optional(),
      output_tokens: z.number().optional(),
      total_tokens: z.number().optional(),
    })
    .nullish(),
  cost: z.string().nullish(),
});

export type Batch = z.infer<typeof batchSchema>;

export type RequestCounts = z.infer<typeof requestCountsSchema>;

export const batchListSchema = z.object({
  data: z.array(batchSchema),
  has_more: z.boolean().optional(),
  last_id: z.string().nullish(),
});

export type BatchList = z.infer<typeof batchListSchema>;

/** The uploaded file, of which the CLI needs only the id (and the size, to say what went up). */
export const fileObjectSchema = z.object({ id: z.string(), bytes: z.number().optional() });

/** Statuses after which nothing changes; `cancelling` and `finalizing` are still on their way. */
const endStatuses: ReadonlySet<string> = new Set(['completed', 'failed', 'expired', 'cancelled']);

export function isFinished(batch: Batch): boolean {
  return endStatuses.has(batch.status);
}

/** The batch commands' outcomes beyond the API commands' done, request failed and usage error. */
export const batchExitCodes = { ...exitCodes, batchFailed: 3, unfinished: 4 } as const;

/** A batch that ended without completing is a failure for scripts; one still running is not. */
export function exitCodeOf(batch: Batch): number {
  return isFinished(batch) && batch.status !== 'completed'
    ? batchExitCodes.batchFailed
    : batchExitCodes.done;
}

/** Requests done so far, whether they succeeded or failed. */
export function doneCount(counts: RequestCounts): number {
  return counts.completed + counts.failed;
}
