/**
 * The holds gauge over PostgreSQL: reservations still holding money across every replica, and
 * how much (the `reservations_status` index serves it). Money stays bigint.
 */
import type pg from 'pg';
import type { HoldsPending } from '../prometheus-metrics.ts';
import { integerOf, moneyOf } from './postgres-ledger-rows.ts';

export function createPostgresHoldsReader(pool: pg.Pool): () => Promise<HoldsPending> {
  return async () => {
    const result = await pool.query({
      name: 'tb_holds_pending',
      text: `SELECT count(*) AS count, coalesce(sum(reserved_amount), 0) AS amount
             FROM reservations WHERE status = 'reserved'`,
    });
    const row = result.rows[0] as Record<string, unknown> | undefined;
    return { count: integerOf(row?.count ?? 0), amountMicro: moneyOf(row?.amount ?? 0) };
  };
}
