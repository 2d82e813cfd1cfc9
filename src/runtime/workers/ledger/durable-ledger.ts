/**
 * The Ledger port over a Durable Object's SQLite storage: the shared operations run inside the
 * third LedgerUnit (durable-ledger-unit.ts), each call in one `transactionSync`, so a failure
 * anywhere in it (an overdraft refused, a conflicting reference) leaves nothing behind. On Workers
 * one object holds one tenant's wallet, coupons and holds (tenant-ledger-object.ts), and since an
 * object runs one call at a time its calls are serialized per tenant without any lock.
 */
import { assert } from '../../../assert.ts';
import { adjustmentOperation } from '../../../billing/adjustment-operation.ts';
import {
  endGrantOperation,
  grantOperation,
  topUpOperation,
} from '../../../billing/grant-operations.ts';
import {
  leaseChargeOperation,
  leaseEndOperation,
  withRecordedPayers,
} from '../../../billing/lease-operation.ts';
import type { Ledger } from '../../../billing/ledger.ts';
import { systemAccounts } from '../../../billing/ledger-accounts.ts';
import { payoutOperation } from '../../../billing/payout-operation.ts';
import { rejectedUsageRow, reserveOperation } from '../../../billing/reserve-operation.ts';
import {
  duplicateSettlement,
  releaseOperation,
  settleOperation,
  sweepOperation,
} from '../../../billing/settle-operation.ts';
import { storageChargeOperation } from '../../../billing/storage-operation.ts';
import { reservationOf } from '../../ledger-row-codecs.ts';
import { durableSql } from '../durable-sql.ts';
import type { DurableObjectStorage } from '../workers-types.ts';
import { durableLedgerReads } from './durable-ledger-reads.ts';
import { durableLedgerRows, reservationSelect } from './durable-ledger-rows.ts';
import { durableLedgerUnit } from './durable-ledger-unit.ts';

/** Most orphaned holds one sweep handles; the next sweep takes the rest. */
const sweepBatchMax = 500;

export function createDurableLedger(storage: DurableObjectStorage): Ledger {
  const sql = durableSql(storage.sql);
  const rows = durableLedgerRows(sql);
  const unit = durableLedgerUnit(sql, rows);
  const atomic = async <Result>(body: () => Result): Promise<Result> =>
    storage.transactionSync(body);
  storage.transactionSync(() => {
    for (const [id, kind] of systemAccounts) {
      unit.ensureAccount(id, kind, null);
    }
  });

  const reads = durableLedgerReads({
    sql,
    rows,
    walletAvailable: (tenantId) => unit.walletAvailableMicro(tenantId),
  });
  return {
    reserve: (input) => atomic(() => reserveOperation(unit, input)),
    checkpoint: async (input) => {
      sql.run(
        `UPDATE reservations SET checkpoint_input_tokens = ?, checkpoint_output_tokens = ?,
           checkpoint_at_ms = ?, backend_id = COALESCE(?, backend_id)
         WHERE request_id = ? AND status = 'reserved'`,
        input.inputTokens,
        input.outputTokens,
        input.atMs,
        input.backendId,
        input.requestId,
      );
    },
    settle: (input) =>
      atomic(() => {
        const reservation = unit.reservation(input.requestId);
        assert(reservation, `settle of ${input.requestId} without a reservation`);
        return reservation.status === 'reserved'
          ? settleOperation(unit, input, reservation)
          : duplicateSettlement(unit, reservation);
      }),
    release: (input) =>
      atomic(() => {
        const reservation = unit.reservation(input.requestId);
        if (reservation?.status === 'reserved') {
          releaseOperation(unit, input, reservation);
        }
      }),
    recordRejected: (input) => atomic(() => unit.insertUsage(rejectedUsageRow(input))),
    recordVerification: async (requestId, recountedOutputTokens) => {
      sql.run(
        'UPDATE usage_records SET verified_output_tokens = ? WHERE request_id = ?',
        recountedOutputTokens,
        requestId,
      );
    },
    sweep: ({ atMs, ownerSilentBeforeMs, overdue }) =>
      atomic(() => {
        const orphaned = sql
          .all(
            `${reservationSelect} r WHERE r.status = 'reserved' AND (NOT EXISTS (
               SELECT 1 FROM gateway_instances g
               WHERE g.id = r.instance_id AND g.heartbeat_at_ms >= ?)
               OR (r.instance_id = ? AND r.admitted_at_ms < ?))
             ORDER BY r.admitted_at_ms LIMIT ?`,
            ownerSilentBeforeMs,
            overdue.instanceId,
            overdue.admittedBeforeMs,
            sweepBatchMax,
          )
          .map(reservationOf);
        for (const reservation of orphaned) {
          sweepOperation(unit, reservation, atMs);
        }
        return orphaned.length;
      }),
    heartbeat: async (instanceId, atMs) => {
      sql.run(
        `INSERT INTO gateway_instances (id, started_at_ms, heartbeat_at_ms) VALUES (?1, ?2, ?2)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at_ms = excluded.heartbeat_at_ms`,
        instanceId,
        atMs,
      );
    },
    topUp: (input) => atomic(() => topUpOperation(unit, input)),
    payout: (input) => atomic(() => payoutOperation(unit, input)),
    adjust: (input) => atomic(() => adjustmentOperation(unit, input)),
    grantCoupon: (input) => atomic(() => grantOperation(unit, input)),
    chargeStorage: (input) => atomic(() => storageChargeOperation(unit, input)),
    chargeLease: async (input) =>
      withRecordedPayers(
        await atomic(() => leaseChargeOperation(unit, input)),
        input.leaseId,
        reads,
      ),
    endLease: (input) => atomic(() => leaseEndOperation(unit, input)),
    voidCoupon: (couponId, atMs) =>
      atomic(() => {
        const coupon = rows.coupon(couponId);
        if (coupon?.status === 'active') {
          endGrantOperation(unit, coupon, 'voided', atMs);
        }
        return rows.coupon(couponId);
      }),
    expireCoupons: (atMs) =>
      atomic(() => {
        const expired = rows.expiredActiveCoupons(atMs);
        for (const coupon of expired) {
          endGrantOperation(unit, coupon, 'expired', atMs);
        }
        return expired.length;
      }),
    ...reads,
  };
}
