/**
 * Reservation and usage rows of the SQLite ledger: one reservation per admitted request (its
 * holds are the pending transfers of its `reserve:` transaction) and one usage record per request
 * that ended, however it ended.
 */
import type Database from 'better-sqlite3';
import type { PaidBy } from '../../../billing/ledger.ts';
import {
  type NewReservationRow,
  type ReservationRow,
  type UsageRow,
  usageRowValues,
} from '../../../billing/ledger-unit.ts';
import { fromStoredPaidBy, type StoredPaidBy } from '../../../billing/paid-by.ts';
import type { LedgerEffects } from './ledger-effects.ts';
import type { DeferredWriter } from './sqlite-deferred-writer.ts';

const reservationColumns = `request_id AS requestId, tenant_id AS tenantId, key_id AS keyId, model,
  region, price_id AS priceId, multiplier_bps AS multiplierBps, reserved_amount AS reservedAmount,
  status, instance_id AS instanceId, backend_id AS backendId,
  prompt_tokens_estimate AS promptTokensEstimate, checkpoint_input_tokens AS checkpointInputTokens,
  checkpoint_output_tokens AS checkpointOutputTokens, admitted_at_ms AS admittedAtMs`;

/** Integers other than money are small: read them back as numbers. */
function fromRow(row: Record<string, unknown>): ReservationRow {
  const numberOrNull = (value: unknown) => (value === null ? null : Number(value));
  return {
    ...(row as ReservationRow),
    multiplierBps: Number(row.multiplierBps),
    promptTokensEstimate: Number(row.promptTokensEstimate),
    checkpointInputTokens: numberOrNull(row.checkpointInputTokens),
    checkpointOutputTokens: numberOrNull(row.checkpointOutputTokens),
    admittedAtMs: Number(row.admittedAtMs),
  };
}

export type ReservationRows = ReturnType<typeof createReservationRows>;

export function createReservationRows(
  connection: Database.Database,
  effects: LedgerEffects,
  writer: DeferredWriter,
) {
  const statements = {
    insert: connection.prepare(
      `INSERT INTO reservations (request_id, tenant_id, key_id, model, region, price_id, multiplier_bps,
         reserved_amount, status, instance_id, backend_id, prompt_tokens_estimate, admitted_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'reserved', ?, NULL, ?, ?)
       ON CONFLICT (request_id) DO NOTHING`,
    ),
    get: connection
      .prepare(`SELECT ${reservationColumns} FROM reservations WHERE request_id = ?`)
      .safeIntegers(true),
    status: connection.prepare('SELECT status FROM reservations WHERE request_id = ?').pluck(),
    end: connection.prepare(
      `UPDATE reservations SET status = ?, ended_at_ms = ? WHERE request_id = ? AND status = 'reserved'`,
    ),
    checkpoint: connection.prepare(
      `UPDATE reservations SET checkpoint_input_tokens = ?, checkpoint_output_tokens = ?,
         checkpoint_at_ms = ?, backend_id = COALESCE(?, backend_id)
       WHERE request_id = ? AND status = 'reserved'`,
    ),
    orphaned: connection
      .prepare(
        `SELECT ${reservationColumns} FROM reservations r
         WHERE r.status = 'reserved' AND NOT EXISTS (
           SELECT 1 FROM gateway_instances g WHERE g.id = r.instance_id AND g.heartbeat_at_ms >= @ownerSilentBeforeMs)
         ORDER BY r.admitted_at_ms LIMIT @limit`,
      )
      .safeIntegers(true),
    usageCostAndPayment: connection
      .prepare('SELECT cost, paid_by AS paidBy FROM usage_records WHERE request_id = ?')
      .safeIntegers(true),
    heartbeat: connection.prepare(
      `INSERT INTO gateway_instances (id, started_at_ms, heartbeat_at_ms) VALUES (@id, @atMs, @atMs)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at_ms = excluded.heartbeat_at_ms`,
    ),
  };
  return {
    /** Inserts a new reservation; false when the request id already has one. */
    insert(row: NewReservationRow): boolean {
      const result = statements.insert.run(
        row.requestId,
        row.tenantId,
        row.keyId,
        row.model,
        row.region,
        row.priceId,
        row.multiplierBps,
        row.reservedAmount,
        row.instanceId,
        row.promptTokensEstimate,
        row.admittedAtMs,
      );
      return result.changes === 1;
    },
    get(requestId: string): ReservationRow | undefined {
      const row = statements.get.get(requestId) as Record<string, unknown> | undefined;
      return row && fromRow(row);
    },
    statusOf(requestId: string): ReservationRow['status'] | undefined {
      return statements.status.get(requestId) as ReservationRow['status'] | undefined;
    },
    /** Ends a reservation once; false when it had already ended. */
    end(requestId: string, status: 'settled' | 'released', atMs: number): boolean {
      return statements.end.run(status, atMs, requestId).changes === 1;
    },
    checkpoint(
      requestId: string,
      inputTokens: number,
      outputTokens: number,
      backendId: string | null,
      atMs: number,
    ) {
      statements.checkpoint.run(inputTokens, outputTokens, atMs, backendId, requestId);
    },
    orphaned(query: { ownerSilentBeforeMs: number; limit: number }) {
      return (statements.orphaned.all(query) as Record<string, unknown>[]).map(fromRow);
    },
    /** Queues the usage record; it is written with the transaction's other rows. */
    insertUsage(row: UsageRow) {
      effects.addRow('usage_records', usageRowValues(row));
    },
    usageCostAndPayment(requestId: string): { costMicro: bigint; paidBy: PaidBy[] } | undefined {
      writer.write();
      const row = statements.usageCostAndPayment.get(requestId) as
        | { cost: bigint; paidBy: string }
        | undefined;
      return row && { costMicro: row.cost, paidBy: parsePaidBy(row.paidBy) };
    },
    heartbeat(instanceId: string, atMs: number) {
      statements.heartbeat.run({ id: instanceId, atMs });
    },
  };
}

/** paid_by is stored as JSON with decimal-string amounts, as the API shows it. */
export function parsePaidBy(text: string): PaidBy[] {
  return fromStoredPaidBy(JSON.parse(text) as StoredPaidBy[]);
}
