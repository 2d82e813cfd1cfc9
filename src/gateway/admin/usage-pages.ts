/**
 * Usage reads are bounded, since any tenant key can ask for them: a time range of at most
 * `usageRangeDaysMax` days (the last `usageRangeDaysDefault` days unless `?from` says otherwise),
 * and pages of at most `usagePageSizeMax` records (`?limit`, default `usagePageSizeDefault`)
 * resumed with `?after`, the cursor of the last record of the page before. JSON answers carry
 * `has_more` and `next_cursor`; CSV answers carry them as `x-next-cursor` and a `Link` header.
 */
import type { Context } from 'hono';
import type { TimeRange, UsageCursor, UsagePage, UsageRecord } from '../../billing/ledger.ts';
import type { Limits } from '../../config.ts';
import type { HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { csvResponse, type ExportFormat, timeRangeOf, usageCsv } from './usage-export.ts';
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

/** `?limit` and `?after`, validated. */
export function usagePageOf(query: UsageQuery, limits: Limits): UsagePage {
  return { limit: limitOf(query.limit, limits), after: cursorOf(query.after) };
}

function limitOf(text: string | undefined, limits: Limits): number {
  if (text === undefined || text === '') {
    return limits.usagePageSizeDefault;
  }
  const limit = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
  if (!(limit >= 1 && limit <= limits.usagePageSizeMax)) {
    throw new GatewayError(
      'invalid_request',
      `limit must be an integer from 1 to ${limits.usagePageSizeMax}.`,
      { param: 'limit' },
    );
  }
  return limit;
}

/** A cursor is `{created_at_ms}.{request_id}` of the last record seen. */
function cursorOf(text: string | undefined): UsageCursor | undefined {
  if (text === undefined || text === '') {
    return undefined;
  }
  const match = /^(\d{1,16})\.(.{1,256})$/.exec(text);
  if (!match) {
    throw new GatewayError('invalid_request', 'after must be the next_cursor of the page before.', {
      param: 'after',
    });
  }
  return { createdAtMs: Number(match[1]), requestId: match[2] ?? '' };
}

function cursorText(record: UsageRecord): string {
  return `${record.createdAtMs}.${record.requestId}`;
}

/** The page as read with one record more than its limit: that extra one says there is more. */
export function usagePageResponse(
  c: Context<HonoEnv>,
  records: readonly UsageRecord[],
  page: UsagePage,
  format: ExportFormat,
  fileName: string,
): Response {
  const hasMore = records.length > page.limit;
  const shown = hasMore ? records.slice(0, page.limit) : records;
  const last = shown.at(-1);
  const nextCursor = hasMore && last !== undefined ? cursorText(last) : null;
  if (format === 'json') {
    return c.json(listView(shown.map(usageView), { has_more: hasMore, next_cursor: nextCursor }));
  }
  const response = csvResponse(usageCsv(shown), fileName);
  if (nextCursor !== null) {
    const next = new URL(c.req.url);
    next.searchParams.set('after', nextCursor);
    response.headers.set('x-next-cursor', nextCursor);
    response.headers.set('link', `<${next.pathname}${next.search}>; rel="next"`);
  }
  return response;
}

/** One record more than the page shows, so its answer knows whether another page follows. */
export function readAheadPage(page: UsagePage): UsagePage {
  return { limit: page.limit + 1, after: page.after };
}
