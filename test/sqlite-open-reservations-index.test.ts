/**
 * The SQLite ledger indexes only open reservations by status (drizzle/0015): each read by status
 * (the sweep's orphans in admission order, the open-holds gauge, a Durable Object's next alarm)
 * goes through that index, never through the table of every request ever admitted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHoldsReader } from '../src/runtime/node/prometheus-metrics.ts';
import { migrateSqlite, openSqlite } from '../src/runtime/node/sqlite/sqlite-database.ts';

type Opened = ReturnType<typeof openSqlite>;

const readsByStatus = {
  orphans: `SELECT request_id FROM reservations r
    WHERE r.status = 'reserved' AND (NOT EXISTS (
      SELECT 1 FROM gateway_instances g WHERE g.id = r.instance_id AND g.heartbeat_at_ms >= 1)
      OR (r.instance_id = 'gw_1' AND r.admitted_at_ms < 5))
    ORDER BY r.admitted_at_ms LIMIT 10`,
  nextAlarm: `SELECT MIN(admitted_at_ms) AS atMs FROM reservations WHERE status = 'reserved'`,
};

describe('the index of open reservations', () => {
  let opened: Opened;

  beforeAll(() => {
    opened = openSqlite(':memory:');
    migrateSqlite(opened);
  });
  afterAll(() => opened.close());

  const planOf = (sql: string) =>
    (opened.connection.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map(
      (row) => row.detail,
    );

  it.each(Object.entries(readsByStatus))('serves the %s read', (_name, sql) => {
    const plan = planOf(sql);
    expect(
      plan.some(
        (detail) =>
          detail.includes('USING COVERING INDEX reservations_open') ||
          detail.includes('USING INDEX reservations_open'),
      ),
    ).toBe(true);
    expect(plan.filter((detail) => /^SCAN (r|reservations)$/.test(detail))).toEqual([]);
  });

  it('serves the open-holds gauge, which counts only open reservations', () => {
    const reader = createHoldsReader(opened.connection);
    opened.connection.exec(`
      INSERT INTO reservations (request_id, tenant_id, key_id, model, region, price_id,
        multiplier_bps, reserved_amount, status, instance_id, prompt_tokens_estimate, admitted_at_ms)
      VALUES ('req_open', 'ten_1', 'key_1', 'm', 'east', 'prc_1', 10000, 700, 'reserved', 'gw_1', 1, 1),
        ('req_done', 'ten_1', 'key_1', 'm', 'east', 'prc_1', 10000, 900, 'settled', 'gw_1', 1, 2)`);
    expect(reader()).toEqual({ count: 1, amountMicro: 700n });
    const gauge = planOf(
      `SELECT count(*), coalesce(sum(reserved_amount), 0) FROM reservations WHERE status = 'reserved'`,
    );
    expect(gauge).toEqual(['SCAN reservations USING INDEX reservations_open']);
  });
});
