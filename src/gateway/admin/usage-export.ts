/**
 * Usage and statements leave the gateway as JSON or CSV: the time range of a query string, the
 * CSV columns of API.md (paid_by flattened as `source:id:amount;...`), and the per-program
 * statement an SME hands to the subsidy issuer.
 */
import type { ProgramStatementRow, TimeRange, UsageRecord } from '../../billing/ledger.ts';
import { formatMoney } from '../../billing/money.ts';
import { GatewayError } from '../../errors.ts';
import { toRfc3339 } from '../../platform/clock.ts';
import { toCsv } from './csv.ts';
import { usageView } from './views.ts';

function instantParam(text: string | undefined, param: string, fallbackMs: number): number {
  if (text === undefined || text === '') {
    return fallbackMs;
  }
  const atMs = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(text) || Number.isNaN(atMs)) {
    throw new GatewayError(
      'invalid_request',
      `${param} must be an RFC 3339 time like 2026-11-01T00:00:00Z.`,
      {
        param,
      },
    );
  }
  return atMs;
}

/** `?from` (default: the beginning) and `?to` (default: now, inclusive), validated. */
export function timeRangeOf(
  query: { from?: string | undefined; to?: string | undefined },
  nowMs: number,
): TimeRange {
  const fromMs = instantParam(query.from, 'from', 0);
  const toMs = instantParam(query.to, 'to', nowMs + 1);
  if (toMs < fromMs) {
    throw new GatewayError('invalid_request', 'to must not be before from.', { param: 'to' });
  }
  return { fromMs, toMs };
}

export type ExportFormat = 'json' | 'csv';

export function formatOf(text: string | undefined, fallback: ExportFormat): ExportFormat {
  if (text === undefined || text === '') {
    return fallback;
  }
  if (text !== 'json' && text !== 'csv') {
    throw new GatewayError('invalid_request', 'format must be json or csv.', { param: 'format' });
  }
  return text;
}

const usageColumns = [
  'request_id',
  'created_at',
  'tenant_id',
  'key_id',
  'model',
  'region',
  'backend_id',
  'provider_id',
  'input_tokens',
  'cached_input_tokens',
  'output_tokens',
  'reasoning_tokens',
  'usage_source',
  'outcome',
  'cost',
  'paid_by',
  'verified_output_tokens',
] as const;

export function usageCsv(records: readonly UsageRecord[]): string {
  return toCsv(
    usageColumns,
    records.map((record) => {
      const view = usageView(record);
      return usageColumns.map((column) =>
        column === 'paid_by'
          ? view.paid_by.map((paid) => `${paid.source}:${paid.id ?? ''}:${paid.amount}`).join(';')
          : view[column],
      );
    }),
  );
}

const statementColumns = [
  'request_id',
  'time',
  'tenant_id',
  'coupon_id',
  'model',
  'provider_id',
  'input_tokens',
  'output_tokens',
  'amount',
] as const;

export function statementView(row: ProgramStatementRow) {
  return {
    request_id: row.requestId,
    time: toRfc3339(row.createdAtMs),
    tenant_id: row.tenantId,
    coupon_id: row.couponId,
    model: row.model,
    provider_id: row.providerId,
    input_tokens: row.inputTokens,
    output_tokens: row.outputTokens,
    amount: formatMoney(row.amountMicro),
  };
}

export function statementCsv(rows: readonly ProgramStatementRow[]): string {
  return toCsv(
    statementColumns,
    rows.map((row) => {
      const view = statementView(row);
      return statementColumns.map((column) => view[column]);
    }),
  );
}

export function csvResponse(csv: string, fileName: string): Response {
  return new Response(csv, {
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${fileName.replace(/[^\w.-]/g, '_')}"`,
    },
  });
}
