/**
 * Reservation and usage rows of the SQLite ledger: one reservation per admitted request, carrying
 * its `reserve:` transaction and holds, and one usage record per request that ended, however it
 * ended, carrying its `settle:` or `release:` transaction (request-journal.ts). A reservation
 * written before the lean journal has its holds as pending transfers kept in full.
 */
import type Database from 'better-sqlite3';
import type { PaidBy } from '../../../billing/ledger.ts';
import type {
  NewReservationRow,
  PendingTransfer,
  ReservationRow,
  UsageRow,
} from '../../../billing/ledger-unit.ts';
import { fromStoredPaidBy, type StoredPaidBy } from '../../../billing/paid-by.ts';
import { columnList, columnNames, rowValues } from '../../../db/ledger-column.ts';
import {
  reservationColumns,
  reservationJournalColumns,
  usageRecordColumns,
} from '../../../db/ledger-tables.ts';
import {
  reservationOf,
  reservationProperties,
  storedReservationOf,
  storedUsageOf,
  usageProperties,
} from '../../ledger-row-codecs.ts';
import type { LedgerEffects } from './ledger-effects.ts';
import {
  type RequestJournal,
  reservationJournalValues,
  usageJournalValues,
} from './request-journal.ts';
import type { DeferredWriter } from './sqlite-deferred-writer.ts';

const reservationList = columnList(reservationColumns, reservationProperties);
const insertedReservationColumns = [
  ...columnNames(reservationColumns),
  ...columnNames(reservationJournalColumns),
];

/** A reservation's `reserve:` transaction as its row carries it, with its holds while open. */
export type ReservedJournal = {
  transactionId: number;
  amountMicro: bigint;
  holds: PendingTransfer[];
};

export type ReservationRows = ReturnType<typeof createReservationRows>;

export function createReservationRows(
  connection: Database.Database,
  effects: LedgerEffects,
  writer: DeferredWriter,
) {
  const statements = {
    insert: connection.prepare(
      `INSERT INTO reservations (${insertedReservationColumns.join(', ')})
       VALUES (${insertedReservationColumns.map(() => '?').join(', ')})
       ON CONFLICT (request_id) DO NOTHING`,
    ),
    reserved: connection
      .prepare(
        `SELECT transaction_id AS transactionId, reserved_amount AS amount, status
         FROM reservations WHERE request_id = ? AND transaction_id IS NOT NULL`,
      )
      .safeIntegers(true),
    // Decoded by SQLite, so each amount comes back as a 64-bit integer, never a JS number.
    legs: connection
      .prepare(
        `SELECT r.first_transfer_id + leg.key AS id, json_extract(leg.value, '$[0]') AS debitAccountId,
           'holds' AS creditAccountId, json_extract(leg.value, '$[1]') AS amount
         FROM reservations r, json_each(r.legs) leg WHERE r.request_id = ? ORDER BY leg.key`,
      )
      .safeIntegers(true),
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
    /** Inserts a new reservation with its reserve transaction; false when the request has one. */
    insert(row: NewReservationRow, journal: RequestJournal): boolean {
      const result = statements.insert.run([
        ...rowValues(reservationColumns, reservationProperties, storedReservationOf(row)),
        ...reservationJournalValues(journal),
      ]);
      return result.changes === 1;
    },
    /**
     * The reserve transaction a reservation carries, with its holds while it is open (they are
     * resolved only as it ends); undefined when it carries none (written before the lean journal).
     */
    reservedJournal(requestId: string): ReservedJournal | undefined {
      const row = statements.reserved.get(requestId) as
        | { transactionId: bigint; amount: bigint; status: string }
        | undefined;
      if (!row) {
        return undefined;
      }
      const legs =
        row.status === 'reserved'
          ? (statements.legs.all(requestId) as (PendingTransfer & { id: bigint })[])
          : [];
      return {
        transactionId: Number(row.transactionId),
        amountMicro: row.amount,
        holds: legs.map((leg) => ({ ...leg, id: Number(leg.id) })),
      };
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
    /**
     * Queues the usage record, with the settle or release it carries (none for a request refused
     * before any hold); it is written with the transaction's other rows.
     */
    insertUsage(row: UsageRow, journal: RequestJournal | undefined) {
      effects.addRow('usage_records', [
        ...rowValues(usageRecordColumns, usageProperties, storedUsageOf(row)),
        ...usageJournalValues(journal),
      ]);
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
