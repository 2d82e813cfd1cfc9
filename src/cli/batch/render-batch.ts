/**
 * A batch as text for a terminal: its summary as aligned `key: value` lines (status, request
 * counts, cost, usage, the times that are set, file ids, metadata, then its errors as a table),
 * and a list of batches as a table. Values come from the server, so they go through the admin
 * CLI's rendering, which escapes control characters. Usage the gateway has not reported is "-",
 * never 0.
 */
import {
  column,
  formatValue,
  type JsonRecord,
  renderRecord,
  renderTable,
} from '../admin/render-table.ts';
import { type Batch, type BatchList, doneCount, type RequestCounts } from './batch-object.ts';

/** The times of a batch in the order they happen, with the label each is shown under. */
const timeFields = [
  ['created', 'created_at'],
  ['in progress', 'in_progress_at'],
  ['finalizing', 'finalizing_at'],
  ['completed', 'completed_at'],
  ['failed', 'failed_at'],
  ['expired', 'expired_at'],
  ['cancelling', 'cancelling_at'],
  ['cancelled', 'cancelled_at'],
  ['expires', 'expires_at'],
] as const satisfies ReadonlyArray<readonly [string, keyof Batch]>;

export function renderBatchSummary(batch: Batch): string {
  const times = timeFields.flatMap(([label, field]) => {
    const value = batch[field];
    return value === null || value === undefined ? [] : [[label, formatTime(value)] as const];
  });
  const record: JsonRecord = {
    id: batch.id,
    status: batch.status,
    endpoint: batch.endpoint,
    requests: countsText(batch.request_counts),
    cost: batch.cost,
    usage: usageText(batch.usage),
    'input file': batch.input_file_id,
    'output file': batch.output_file_id,
    'error file': batch.error_file_id,
    ...Object.fromEntries(times),
    metadata: batch.metadata,
    errors: (batch.errors?.data ?? []).map((error) => ({
      line: error.line,
      code: error.code,
      param: error.param,
      message: error.message,
    })),
  };
  return renderRecord(record);
}

/** `10 total, 7 completed, 1 failed`. */
export function countsText(counts: RequestCounts | null | undefined): string | undefined {
  return counts === null || counts === undefined
    ? undefined
    : `${counts.total} total, ${counts.completed} completed, ${counts.failed} failed`;
}

/** `1200 input + 340 output = 1540 tokens`; a part the gateway left out shows as "?". */
export function usageText(usage: Batch['usage']): string | undefined {
  if (usage === null || usage === undefined) {
    return undefined;
  }
  const part = (value: number | undefined) => (value === undefined ? '?' : String(value));
  return `${part(usage.input_tokens)} input + ${part(usage.output_tokens)} output = ${part(usage.total_tokens)} tokens`;
}

/** Unix seconds (OpenAI's SDK shape) as RFC 3339; a string is shown as the gateway wrote it. */
export function formatTime(value: number | string): string {
  if (typeof value === 'string') {
    return value;
  }
  const date = new Date(value * 1000);
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString();
}

const listColumns = [
  column('ID', 'id'),
  column('STATUS', 'status'),
  column('ENDPOINT', 'endpoint'),
  column('DONE', 'done'),
  column('FAILED', 'failed'),
  column('COST', 'cost'),
  column('CREATED', 'created'),
];

export function renderBatchList(list: BatchList): string {
  if (list.data.length === 0) {
    return 'no batches\n';
  }
  const rows = list.data.map((batch) => {
    const counts = batch.request_counts;
    return {
      id: batch.id,
      status: batch.status,
      endpoint: batch.endpoint,
      done:
        counts === null || counts === undefined
          ? undefined
          : `${doneCount(counts)}/${counts.total}`,
      failed: counts?.failed,
      cost: batch.cost,
      created:
        batch.created_at === null || batch.created_at === undefined
          ? undefined
          : formatTime(batch.created_at),
    };
  });
  const more =
    list.has_more === true && typeof list.last_id === 'string'
      ? `more: --after ${formatValue(list.last_id)}\n`
      : '';
  return `${renderTable(rows, listColumns)}${more}`;
}
