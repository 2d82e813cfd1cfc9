/**
 * A program's statement reads one period of the usage records, in time order, through their time
 * index (drizzle/0016): a page is a range read that stops at its end, for every tenant or one,
 * first page or a later one, never a scan of every record ever written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statementPageBounds } from '../src/billing/usage-page.ts';
import { sqliteProgramStatementQuery } from '../src/db/program-statement-query.ts';
import { migrateSqlite, openSqlite } from '../src/runtime/node/sqlite/sqlite-database.ts';

type Opened = ReturnType<typeof openSqlite>;

const range = { fromMs: 1_000, toMs: 2_000 };
const pages = {
  'the first page of every tenant': {
    tenantId: null,
    ...statementPageBounds(range, { limit: 100, after: undefined }),
  },
  'a later page of one tenant': {
    tenantId: 'ten_1',
    ...statementPageBounds(range, {
      limit: 100,
      after: { createdAtMs: 1_500, requestId: 'req_9', couponId: 'cpn_1' },
    }),
  },
};

describe("the usage records' time index", () => {
  let opened: Opened;

  beforeAll(() => {
    opened = openSqlite(':memory:');
    migrateSqlite(opened);
  });
  afterAll(() => opened.close());

  it.each(Object.entries(pages))('serves %s of a statement', (_name, bounds) => {
    const query = sqliteProgramStatementQuery.replace(/@(\w+)/g, ':$1');
    const plan = (
      opened.connection.prepare(`EXPLAIN QUERY PLAN ${query}`).all({ program: 'p', ...bounds }) as {
        detail: string;
      }[]
    ).map((row) => row.detail);
    expect(plan).toContain(
      'SEARCH u USING INDEX usage_records_time (created_at_ms>? AND created_at_ms<?)',
    );
    expect(plan.filter((detail) => detail.startsWith('SCAN u'))).toEqual([]);
  });
});
