/**
 * Usage and statements leave the gateway as JSON or CSV: the time range of a query string, the
 * CSV columns of API.md (paid_by flattened as `source:id:amount:kind;...`, lines as
 * `meter:units:price:cost;...`), and the per-program
 * statement an SME hands to the subsidy issuer.
 */
import { assert } from '../../assert.ts';
import type { ProgramStatementRow, TimeRange, UsageRecord } from '../../billing/ledger.ts';
import { formatMoney } from '../../billing/money.ts';
import { columnNames } from '../../db/ledger-column.ts';
import { usageRecordColumns } from '../../db/ledger-tables.ts';
import { GatewayError } from '../../errors.ts';
import { toRfc3339 } from '../../platform/clock.ts';
import { exportFormatQuery, queryInstant } from '../middleware/query-fields.ts';
import { type CsvValue, toCsv } from './csv.ts';
import { usageView } from './views.ts';

function instantParam(text: string | undefined, param: string, fallbackMs: number): number {
  if (text === undefined || text === '') {
    return fallbackMs;
  }
  const atMs = Date.parse(text);
  if (!queryInstant.safeParse(text).success || Number.isNaN(atMs)) {
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
  const format = exportFormatQuery.safeParse(text);
  if (!format.success) {
    throw new GatewayError('invalid_request', 'format must be json or csv.', { param: 'format' });
  }
  return format.data;
}

function isCsvValue(value: unknown): value is CsvValue {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

/** Columns of a usage record only the ledger keeps: the API neither shows nor exports them. */
const ledgerOnlyColumns = new Set(['provider_share', 'price_id', 'settled_at_ms']);

/**
 * The CSV columns: the usage table's columns the API shows, as the usage view names them (the
 * batch the request ran for, and `created_at`, an RFC 3339 time, right after the request id), so
 * a column added to the table is exported once the view shows it.
 */
const usageColumns = [
  'request_id',
  'batch_id',
  'created_at',
  ...columnNames(usageRecordColumns).filter(
    (name) => !ledgerOnlyColumns.has(name) && name !== 'request_id' && name !== 'created_at_ms',
  ),
];

export function usageCsv(records: readonly UsageRecord[]): string {
  return toCsv(
    usageColumns,
    records.map((record) => {
      const view = usageView(record);
      const fields: Readonly<Record<string, unknown>> = view;
      return usageColumns.map((column): CsvValue => {
        if (column === 'paid_by') {
          return view.paid_by
            .map((paid) => `${paid.source}:${paid.id ?? ''}:${paid.amount}:${paid.kind}`)
            .join(';');
        }
        if (column === 'lines') {
          return view.lines
            .map((line) => `${line.meter}:${line.units}:${line.price}:${line.cost}`)
            .join(';');
        }
        const value = fields[column];
        assert(column in fields && isCsvValue(value), `the usage view shows ${column} as a value`);
        return value;
      });
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
