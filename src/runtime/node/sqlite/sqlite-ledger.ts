/**
 * The Ledger port over SQLite (better-sqlite3). The operations themselves are the shared ones
 * (reserve-, settle-, grant-, payout- and adjustment-operation.ts), run inside this store's
 * LedgerUnit. Operations are group-committed: those queued in one event-loop turn share one
 * IMMEDIATE transaction, so reading balances, planning with the pure waterfall and writing the
 * guarded transfers happen atomically even when two processes share the file. Idempotency keys
 * (`reserve:`, `settle:`, `topup:` ...) and the reservation's "end once" update make every
 * operation safe to repeat. The tenants' balances, coupons and open reservations are kept in
 * memory (tenant-balances.ts, sqlite-coupon-rows.ts, sqlite-ledger-unit.ts), changed with each
 * transaction and forgotten when it rolls back or when another connection wrote the file
 * (file-changes.ts); the ledger check also compares that memory with the file.
 */
import type Database from 'better-sqlite3';
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
import { BoundedMap } from '../../../platform/bounded-map.ts';
import { createFileChanges } from './file-changes.ts';
import { createGroupCommit } from './group-commit.ts';
import { createLedgerEffects } from './ledger-effects.ts';
import { createPayoutRates } from './payout-rates.ts';
import { createCouponRows } from './sqlite-coupon-rows.ts';
import { createDeferredWriter } from './sqlite-deferred-writer.ts';
import { createLedgerReads } from './sqlite-ledger-reads.ts';
import { createLedgerStore } from './sqlite-ledger-store.ts';
import { createSqliteLedgerUnit, type RememberedHolds } from './sqlite-ledger-unit.ts';
import { createReservationRows } from './sqlite-reservations.ts';
import { createTenantBalances } from './tenant-balances.ts';

/** Most orphaned holds one sweep handles; the next sweep takes the rest. */
const sweepBatchMax = 500;

export type SqliteLedgerOptions = {
  /** Batch the operations of one event-loop turn into one transaction (off only to measure it). */
  groupCommit: boolean;
  /** Reservations of this process remembered until they end; past it, settles read the file. */
  openReservationsMax: number;
  /** Wallet and coupon balances kept in memory; past it, the oldest are read from the file. */
  accountsInMemoryMax: number;
};

const defaultOptions: SqliteLedgerOptions = {
  groupCommit: true,
  openReservationsMax: 100_000,
  accountsInMemoryMax: 100_000,
};

export function createSqliteLedger(
  connection: Database.Database,
  options: Partial<SqliteLedgerOptions> = {},
): Ledger {
  const settings = { ...defaultOptions, ...options };
  const effects = createLedgerEffects();
  const writer = createDeferredWriter(connection, effects);
  const flush = () => writer.write();
  const balances = createTenantBalances(connection, {
    flush,
    accountsMax: settings.accountsInMemoryMax,
  });
  const store = createLedgerStore(connection, effects, writer, balances);
  const coupons = createCouponRows(connection, { balances, flush });
  const reservations = createReservationRows(connection, effects, writer);
  const openReservations = new BoundedMap<RememberedHolds>(settings.openReservationsMax);
  const forgetTenantMemory = () => {
    balances.forgetAll();
    coupons.forgetAll();
  };
  effects.forgetOnRollback(forgetTenantMemory);
  let foreignWritesSeen = 0;
  const payoutRates = createPayoutRates(connection);
  const unit = createSqliteLedgerUnit({
    connection,
    effects,
    store,
    coupons,
    reservations,
    openReservations,
    balances,
    payoutRates,
    foreignWritesSeen: () => foreignWritesSeen,
  });
  connection.transaction(() => {
    for (const [id, kind] of systemAccounts) {
      store.ensureAccount(id, kind, null);
    }
    writer.write();
  })();
  effects.committed();

  const fileChanges = createFileChanges(connection);
  const immediate = createGroupCommit(connection, {
    batched: settings.groupCommit,
    effects,
    writeDeferred: flush,
    // Holding the write lock: payout rates are read afresh, and what another connection committed
    // is read from the file again.
    beforeBatch: () => {
      payoutRates.forget();
      if (fileChanges.changedByOthers()) {
        forgetTenantMemory();
        foreignWritesSeen += 1;
      }
    },
  });

  /** Once a reservation ends, this process forgets it: should the end roll back, it reads it. */
  const forgetEnded = (requestId: string) => openReservations.forget(requestId);
  const reads = createLedgerReads({ connection, coupons });

  /** What the memory says that the file does not: the ledger check reports it as a problem. */
  const memoryProblems = () => [
    ...balances.disagreements(),
    ...coupons.disagreements(),
    ...[...openReservations.entries()].flatMap(([requestId, open]) =>
      open.foreignWritesSeen === foreignWritesSeen &&
      reservations.statusOf(requestId) !== 'reserved'
        ? [`reservation ${requestId} is open in memory but not in the store`]
        : [],
    ),
  ];

  return {
    reserve: async (input) =>
      immediate(() => {
        const result = reserveOperation(unit, input);
        const reserved = unit.takeReservedHolds();
        if (reserved) {
          effects.afterCommit(() =>
            openReservations.remember(input.requestId, { ...reserved, foreignWritesSeen }),
          );
        }
        return result;
      }),
    // Written at once, not batched: the relay goes on as soon as this returns, and a crash
    // must never leave the file behind what the client already received.
    checkpoint: async (input) => {
      reservations.checkpoint(
        input.requestId,
        input.inputTokens,
        input.outputTokens,
        input.backendId,
        input.atMs,
      );
    },
    settle: async (input) =>
      immediate(() => {
        const reservation = unit.reservation(input.requestId);
        assert(reservation, `settle of ${input.requestId} without a reservation`);
        if (reservation.status !== 'reserved') {
          return duplicateSettlement(unit, reservation);
        }
        const settled = settleOperation(unit, input, reservation);
        forgetEnded(input.requestId);
        return settled;
      }),
    release: async (input) =>
      immediate(() => {
        const reservation = unit.reservation(input.requestId);
        if (reservation?.status === 'reserved') {
          releaseOperation(unit, input, reservation);
          forgetEnded(input.requestId);
        }
      }),
    recordRejected: async (input) =>
      immediate(() => reservations.insertUsage(rejectedUsageRow(input), undefined)),
    recordVerification: async (requestId, recountedOutputTokens) => {
      reservations.recordVerification(requestId, recountedOutputTokens);
    },
    sweep: async ({ atMs, ownerSilentBeforeMs, overdue }) =>
      immediate(() => {
        const orphaned = reservations.orphaned({
          ownerSilentBeforeMs,
          overdueInstanceId: overdue.instanceId,
          overdueBeforeMs: overdue.admittedBeforeMs,
          limit: sweepBatchMax,
        });
        for (const reservation of orphaned) {
          sweepOperation(unit, reservation, atMs);
          forgetEnded(reservation.requestId);
        }
        return orphaned.length;
      }),
    heartbeat: async (instanceId, atMs) => {
      reservations.heartbeat(instanceId, atMs);
    },
    topUp: async (input) => immediate(() => topUpOperation(unit, input)),
    payout: async (input) => immediate(() => payoutOperation(unit, input)),
    adjust: async (input) => immediate(() => adjustmentOperation(unit, input)),
    grantCoupon: async (input) => immediate(() => grantOperation(unit, input)),
    chargeStorage: async (input) => immediate(() => storageChargeOperation(unit, input)),
    chargeLease: async (input) =>
      withRecordedPayers(
        await immediate(() => leaseChargeOperation(unit, input)),
        input.leaseId,
        reads,
      ),
    endLease: async (input) => immediate(() => leaseEndOperation(unit, input)),
    voidCoupon: async (couponId, atMs) =>
      immediate(() => {
        const coupon = coupons.byId(couponId);
        if (coupon?.status === 'active') {
          endGrantOperation(unit, coupon, 'voided', atMs);
        }
        return coupons.byId(couponId);
      }),
    expireCoupons: async (atMs) =>
      immediate(() => {
        const expired = coupons.expiredActive(atMs);
        for (const coupon of expired) {
          endGrantOperation(unit, coupon, 'expired', atMs);
        }
        return expired.length;
      }),
    ...reads,
    check: async () => {
      const checked = await reads.check();
      // In a transaction of its own, so the memory is first checked against others' writes.
      const problems = [...checked.problems, ...(await immediate(memoryProblems))].sort();
      return { ...checked, ok: problems.length === 0, problems };
    },
  };
}
