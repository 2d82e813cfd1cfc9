/**
 * Reservation and usage rows of the SQLite ledger: one reservation per admitted request (its
 * holds are the pending transfers of its `reserve:` transaction) and one usage record per request
 * that ended, however it ended.
 */
import type Database from 'better-sqlite3';
import type { PaidBy } from '../../../billing/ledger.ts';
import type { NewReservationRow, ReservationRow, UsageRow } from '../../../billing/ledger-unit.ts';
import { fromStoredPaidBy, type StoredPaidBy } from '../../../billing/paid-by.ts';
import { columnList, rowValues } from '../../../db/ledger-column.ts';
import { reservationColumns, usageRecordColumns } from '../../../db/ledger-tables.ts';
import {
  reservationOf,
  reservationProperties,
  storedReservationOf,
  storedUsageOf,
  usageProperties,
} from '../ledger-row-codecs.ts';
import type { LedgerEffects } from './ledger-effects.ts';
import type { DeferredWriter } from './sqlite-deferred-writer.ts';

const reservationList = columnList(reservationColumns, reservationProperties);

export type ReservationRows = ReturnType<typeof createReservationRows>;

export function createReservationRows(
  connection: Database.Database,
  effects: LedgerEffects,
  writer: DeferredWriter,
) {
  const statements = {
    insert: connection.prepare(
      `INSERT INTO reservations (${reservationList})
       VALUES (${reservationProperties.map(() => '?').join(', ')})
       ON CONFLICT (request_id) DO NOTHING`,
    ),
    get: connection
      .prepare(`SELECT ${reservationList} FROM reservations WHERE request_id = ?`)
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
        `SELECT ${reservationList} FROM reservations r
         WHERE r.status = 'reserved' AND (NOT EXISTS (
           SELECT 1 FROM gateway_instances g WHERE g.id = r.instance_id AND g.heartbeat_at_ms >= @ownerSilentBeforeMs)
           OR (r.instance_id = @overdueInstanceId AND r.admitted_at_ms < @overdueBeforeMs))
         ORDER BY r.admitted_at_ms LIMIT @limit`,
      )
      .safeIntegers(true),
    usageCostAndPayment: connection
      .prepare('SELECT cost, paid_by AS paidBy FROM usage_records WHERE request_id = ?')
      .safeIntegers(true),
    recordVerification: connection.prepare(
      'UPDATE usage_records SET verified_output_tokens = ? WHERE request_id = ?',
    ),
    heartbeat: connection.prepare(
      `INSERT INTO gateway_instances (id, started_at_ms, heartbeat_at_ms) VALUES (@id, @atMs, @atMs)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at_ms = excluded.heartbeat_at_ms`,
    ),
  };
  return {
    /** Inserts a new reservation; false when the request id already has one. */
    insert(row: NewReservationRow): boolean {
      const result = statements.insert.run(
        rowValues(reservationColumns, reservationProperties, storedReservationOf(row)),
      );
      return result.changes === 1;
    },
    get(requestId: string): ReservationRow | undefined {
      const row = statements.get.get(requestId) as Record<string, unknown> | undefined;
      return row && reservationOf(row);
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
    orphaned(query: {
      ownerSilentBeforeMs: number;
      overdueInstanceId: string;
      overdueBeforeMs: number;
      limit: number;
    }) {
      return (statements.orphaned.all(query) as Record<string, unknown>[]).map(reservationOf);
    },
    /** Queues the usage record; it is written with the transaction's other rows. */
    insertUsage(row: UsageRow) {
      effects.addRow(
        'usage_records',
        rowValues(usageRecordColumns, usageProperties, storedUsageOf(row)),
      );
    },
    usageCostAndPayment(requestId: string): { costMicro: bigint; paidBy: PaidBy[] } | undefined {
      writer.write();
      const row = statements.usageCostAndPayment.get(requestId) as
        | { cost: bigint; paidBy: string }
        | undefined;
      return row && { costMicro: row.cost, paidBy: parsePaidBy(row.paidBy) };
    },
    recordVerification(requestId: string, recountedOutputTokens: number) {
      statements.recordVerification.run(recountedOutputTokens, requestId);
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
