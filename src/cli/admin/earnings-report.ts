/**
 * What a provider earned, as a table and its total: printed by `tokenbank provider earnings` (a
 * provider's own) and `tokenbank admin providers earnings ID` (the operator's view of one
 * provider). Both read the same answer shape, so one rendering serves both.
 */
import type { AdminAction } from './admin-action.ts';
import { type Column, column, formatValue, isRecord, renderList } from './render-table.ts';
import { rangeFlags } from './report-resources.ts';

const earningsColumns: Column[] = [
  column('BACKEND', 'backend_id'),
  column('MODEL', 'model'),
  column('REQUESTS', 'requests'),
  column('TOKENS IN', 'input_tokens'),
  column('TOKENS OUT', 'output_tokens'),
  column('EARNED', 'earned'),
];

/** The rows, then `total earned: 12.50 CNY`, what was paid out in the range and what is owed. */
export function renderEarnings(body: unknown): string {
  const record = isRecord(body) ? body : {};
  const currency = formatValue(record.currency);
  const totals = [
    `total earned: ${formatValue(record.total_earned)} ${currency}`,
    `total paid: ${formatValue(record.total_paid)} ${currency}`,
    `unpaid (owed now): ${formatValue(record.unpaid)} ${currency}`,
  ];
  return `${renderList(body, earningsColumns, 'earnings in this range')}${totals.join('\n')}\n`;
}

/** An earnings report over `path`, for a range of time. */
export function earningsAction(
  summary: string,
  path: (input: Parameters<AdminAction['request']>[0]) => string,
): AdminAction {
  return {
    summary,
    flags: rangeFlags,
    notes: [
      'EARNED is the provider share of what the requests served by each backend cost. Total paid',
      'is what was paid out in the range; unpaid is what is owed now, over all time.',
    ].join('\n'),
    request: (input) => ({
      method: 'GET',
      path: path(input),
      query: { from: input.text('from'), to: input.text('to') },
    }),
    render: renderEarnings,
  };
}
