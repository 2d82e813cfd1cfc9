/**
 * Usage reads and statements are bounded, since any tenant key can ask for them: a time range of
 * at most `usageRangeDaysMax` days (the last `usageRangeDaysDefault` days unless `?from` says
 * otherwise), and pages of at most `usagePageSizeMax` rows (`?limit`, default
 * `usagePageSizeDefault`) resumed with `?after`, the cursor of the last row of the page before.
 * JSON answers carry `has_more` and `next_cursor`; CSV answers carry them as `x-next-cursor` and
 * a `Link` header.
 */
import type { Context } from 'hono';
import type {
  ProgramStatementRow,
  StatementCursor,
  TimeRange,
  UsageCursor,
  UsageRecord,
} from '../../billing/ledger.ts';
import type { Limits } from '../../config.ts';
import type { HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { queryInteger } from '../middleware/query-fields.ts';
import {
  csvResponse,
  type ExportFormat,
  statementCsv,
  statementView,
  timeRangeOf,
  usageCsv,
} from './usage-export.ts';
import { listView, usageView } from './views.ts';

const dayMs = 86_400_000;

type UsageQuery = {
  from?: string | undefined;
  to?: string | undefined;
  limit?: string | undefined;
  after?: string | undefined;
};

/** `?from` and `?to` as timeRangeOf reads them, with the default start and the longest span. */
export function boundedTimeRangeOf(query: UsageQuery, nowMs: number, limits: Limits): TimeRange {
  const to = timeRangeOf({ to: query.to }, nowMs).toMs;
  const range = timeRangeOf(
    {
      from: query.from ?? new Date(to - limits.usageRangeDaysDefault * dayMs).toISOString(),
      to: query.to,
    },
    nowMs,
  );
  if (range.toMs - range.fromMs > limits.usageRangeDaysMax * dayMs) {
    throw new GatewayError(
      'invalid_request',
      `from and to may span at most ${limits.usageRangeDaysMax} days (limit usageRangeDaysMax).`,
      { param: 'from' },
    );
  }
  return range;
}

type Page<Cursor> = { limit: number; after: Cursor | undefined };

/** `?limit` and `?after` of a usage read, validated. */
export function usagePageOf(query: UsageQuery, limits: Limits): Page<UsageCursor> {
  return { limit: limitOf(query.limit, limits), after: cursorOf(query.after, usageCursorOf) };
}

/** `?limit` and `?after` of a statement, validated. */
export function statementPageOf(query: UsageQuery, limits: Limits): Page<StatementCursor> {
  return { limit: limitOf(query.limit, limits), after: cursorOf(query.after, statementCursorOf) };
}

function limitOf(text: string | undefined, limits: Limits): number {
  if (text === undefined || text === '') {
    return limits.usagePageSizeDefault;
  }
  const limit = queryInteger.safeParse(text).success ? Number(text) : Number.NaN;
  if (!(limit >= 1 && limit <= limits.usagePageSizeMax)) {
    throw new GatewayError(
      'invalid_request',
      `limit must be an integer from 1 to ${limits.usagePageSizeMax}.`,
      { param: 'limit' },
    );
  }
  return limit;
}

function cursorOf<Cursor>(
  text: string | undefined,
  parse: (text: string) => Cursor | undefined,
): Cursor | undefined {
  if (text === undefined || text === '') {
    return undefined;
  }
  const cursor = parse(text);
  if (cursor === undefined) {
    throw new GatewayError('invalid_request', 'after must be the next_cursor of the page before.', {
      param: 'after',
    });
  }
  return cursor;
}

/** `{created_at_ms}.{request_id}` of a usage record. */
function usageCursorOf(text: string): UsageCursor | undefined {
  const match = /^(\d{1,16})\.(.{1,256})$/.exec(text);
  return match ? { createdAtMs: Number(match[1]), requestId: match[2] ?? '' } : undefined;
}

/** `{created_at_ms}.{coupon_id}.{request_id}` of a statement row. */
function statementCursorOf(text: string): StatementCursor | undefined {
  const match = /^(\d{1,16})\.([\w-]{1,64})\.(.{1,256})$/.exec(text);
  return match
    ? { createdAtMs: Number(match[1]), couponId: match[2] ?? '', requestId: match[3] ?? '' }
    : undefined;
}

type PageFormat<Row> = {
  cursorOf(row: Row): string;
  json(rows: readonly Row[]): unknown[];
  csv(rows: readonly Row[]): string;
  fileName: string;
};

export const usagePages = (fileName: string): PageFormat<UsageRecord> => ({
  cursorOf: (record) => `${record.createdAtMs}.${record.requestId}`,
  json: (records) => records.map(usageView),
  csv: usageCsv,
  fileName,
});

export const statementPages = (fileName: string): PageFormat<ProgramStatementRow> => ({
  cursorOf: (row) => `${row.createdAtMs}.${row.couponId}.${row.requestId}`,
  json: (rows) => rows.map(statementView),
  csv: statementCsv,
  fileName,
});

/** The page as read with one row more than its limit: that extra one says there is more. */
export function pageResponse<Row>(
  c: Context<HonoEnv>,
  rows: readonly Row[],
  limit: number,
  format: ExportFormat,
  pageFormat: PageFormat<Row>,
): Response {
  const hasMore = rows.length > limit;
  const shown = hasMore ? rows.slice(0, limit) : rows;
  const last = shown.at(-1);
  const nextCursor = hasMore && last !== undefined ? pageFormat.cursorOf(last) : null;
  if (format === 'json') {
    return c.json(listView(pageFormat.json(shown), { has_more: hasMore, next_cursor: nextCursor }));
  }
  const response = csvResponse(pageFormat.csv(shown), pageFormat.fileName);
  if (nextCursor !== null) {
    const next = new URL(c.req.url);
    next.searchParams.set('after', nextCursor);
    response.headers.set('x-next-cursor', nextCursor);
    response.headers.set('link', `<${next.pathname}${next.search}>; rel="next"`);
  }
  return response;
}

/** One row more than the page shows, so its answer knows whether another page follows. */
export function readAhead<Cursor>(page: Page<Cursor>): Page<Cursor> {
  return { limit: page.limit + 1, after: page.after };
}
