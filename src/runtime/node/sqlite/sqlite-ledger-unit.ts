/**
 * The LedgerUnit of the SQLite ledger: how the shared operations (reserve-, settle- and
 * grant-operations.ts) read and write inside one IMMEDIATE transaction. Reads are prepared
 * statements; writes go through the store, which defers what it can to the commit. Two shortcuts
 * keep the common request cheap, without changing what any read answers:
 * - a reservation made by this process is remembered with its holds until it ends, so settling
 *   it reads neither its `reserve:` transaction nor its holds (both carried by its row, see
 *   request-journal.ts), nor its status: this process ends it only through this ledger, which
 *   forgets it at once, so it is still open unless another connection wrote the file since it
 *   was remembered (file-changes.ts), and then its status is read;
 * - the tenant's balances and coupons come from memory (tenant-balances.ts, sqlite-coupon-rows.ts),
 *   a provider's payout rates from one read per transaction (payout-rates.ts).
 */
import type Database from 'better-sqlite3';
import { assert } from '../../../assert.ts';
import { accountIds } from '../../../billing/ledger-accounts.ts';
import type {
  LedgerUnit,
  OperatorTransaction,
  ReservationRow,
} from '../../../billing/ledger-unit.ts';
import type { BoundedMap } from '../../../platform/bounded-map.ts';
import type { LedgerEffects } from './ledger-effects.ts';
import type { PayoutRates } from './payout-rates.ts';
import type { CouponRows } from './sqlite-coupon-rows.ts';
import type { LedgerStore } from './sqlite-ledger-store.ts';
import type { ReservationRows, ReservedJournal } from './sqlite-reservations.ts';
import type { TenantBalances } from './tenant-balances.ts';

/** What this process remembers of a reservation it made: its `reserve:` transaction and holds. */
export type RememberedHolds = ReservedJournal & {
  /** The reservation as admitted (checkpoints are the sweep's, read from the store). */
  reservation: ReservationRow;
  /** How many writes by other connections had been seen when it was remembered. */
  foreignWritesSeen: number;
};
export type SqliteOpenReservations = BoundedMap<RememberedHolds>;

type UnitParts = {
  connection: Database.Database;
  effects: LedgerEffects;
  store: LedgerStore;
  coupons: CouponRows;
  reservations: ReservationRows;
  openReservations: SqliteOpenReservations;
  balances: TenantBalances;
  payoutRates: PayoutRates;
  /** Counts the group commits that found the file written by another connection. */
  foreignWritesSeen: () => number;
};

function operatorTransactionOf(row: Record<string, unknown>): OperatorTransaction {
  return {
    id: Number(row.id),
    amountMicro: row.amount as bigint,
    kind: String(row.kind),
    reference: (row.reference as string | null) ?? null,
    memo: (row.memo as string | null) ?? null,
    createdAtMs: Number(row.createdAtMs),
  };
}

export type SqliteLedgerUnit = LedgerUnit & {
  /** The holds the last `reserve:` transaction written in this step took, for remembering. */
  takeReservedHolds(): Omit<RememberedHolds, 'foreignWritesSeen'> | undefined;
};

export function createSqliteLedgerUnit(parts: UnitParts): SqliteLedgerUnit {
  const { connection, store, coupons, reservations, openReservations, balances } = parts;
  const lookups = {
    operatorTransaction: connection
      .prepare(
        `SELECT id, amount, kind, reference, memo, created_at_ms AS createdAtMs
         FROM journal_transactions WHERE idempotency_key = ?`,
      )
      .safeIntegers(true),
    backendPlacement: connection.prepare(
      'SELECT provider_id AS providerId, region FROM backends WHERE id = ?',
    ),
    priceTerms: connection
      .prepare(
        `SELECT input_per_million AS inputPerMillion, cached_input_per_million AS cachedInputPerMillion,
           output_per_million AS outputPerMillion FROM prices WHERE id = ?`,
      )
      .safeIntegers(true),
  };
  let reserving: ReservedJournal | undefined;
  let admitted: ReservationRow | undefined;
  /** The reservation whose `reserve:` transaction was just looked up, with its open holds. */
  let lookedUp: ReservedJournal | undefined;

  /** A reserve carried by a reservation: remembered, else read from its row. */
  const reservedJournal = (idempotencyKey: string) => {
    if (!idempotencyKey.startsWith('reserve:')) {
      return undefined;
    }
    const requestId = idempotencyKey.slice('reserve:'.length);
    return openReservations.get(requestId) ?? reservations.reservedJournal(requestId);
  };

  return {
    walletAvailableMicro(tenantId) {
      store.ensureAccount(`wallet:${tenantId}`, 'wallet', tenantId);
      return balances.availableMicro(`wallet:${tenantId}`);
    },
    couponsOfTenant: (tenantId) => coupons.fundedOfTenant(tenantId),
    coupon: (couponId) => coupons.current(couponId),
    couponByReference: (tenantId, reference) => coupons.byReference(tenantId, reference),
    reservation(requestId) {
      const open = openReservations.get(requestId);
      if (!open) {
        return reservations.get(requestId);
      }
      // Admission fields never change; it is still open unless another connection ended it.
      if (open.foreignWritesSeen === parts.foreignWritesSeen()) {
        return open.reservation;
      }
      const status = reservations.statusOf(requestId);
      return status === undefined ? undefined : { ...open.reservation, status };
    },
    transaction(idempotencyKey) {
      lookedUp = reservedJournal(idempotencyKey);
      if (lookedUp) {
        return {
          id: lookedUp.transactionId,
          amountMicro: lookedUp.amountMicro,
          kind: 'reserve',
          reference: null,
        };
      }
      return store.findTransaction(idempotencyKey);
    },
    openHoldsOf(transactionId) {
      const open = lookedUp;
      lookedUp = undefined;
      if (open?.transactionId === transactionId) {
        return open.holds;
      }
      return store.openPendingOf(transactionId);
    },
    usageCostAndPayment: (requestId) => reservations.usageCostAndPayment(requestId),
    operatorTransaction(idempotencyKey) {
      // A payout or adjustment queued earlier in this batch is written before it is looked for.
      store.flush();
      const row = lookups.operatorTransaction.get(idempotencyKey) as
        | Record<string, unknown>
        | undefined;
      return row && operatorTransactionOf(row);
    },
    // Read once per transaction: the operator may publish a rate version at any time.
    providerPayoutBps: (providerId, atMs) => parts.payoutRates.payoutBpsAt(providerId, atMs),
    payableMicro(providerId) {
      store.flush();
      return store.postedMicro(accountIds.providerPayable(providerId));
    },
    backendPlacement: (backendId) =>
      lookups.backendPlacement.get(backendId) as { providerId: string; region: string } | undefined,
    priceTerms: (priceId) =>
      lookups.priceTerms.get(priceId) as
        | { inputPerMillion: bigint; cachedInputPerMillion: bigint; outputPerMillion: bigint }
        | undefined,

    ensureAccount(id, kind, ownerId) {
      store.ensureAccount(id, kind, ownerId);
      if (kind === 'coupon' && ownerId !== null) {
        coupons.forgetTenant(ownerId);
      }
    },
    insertTransaction(fields) {
      const id = store.insertTransaction(fields);
      if (fields.kind === 'reserve') {
        reserving = { transactionId: id, amountMicro: fields.amountMicro, holds: [] };
        admitted = undefined;
      }
      return id;
    },
    post(transactionId, debitId, creditId, amount, atMs) {
      store.post(transactionId, debitId, creditId, amount, atMs);
    },
    hold(transactionId, debitId, creditId, amount, atMs) {
      const pending = store.hold(transactionId, debitId, creditId, amount, atMs);
      if (reserving?.transactionId === transactionId) {
        reserving.holds.push(pending);
      }
    },
    resolve(transactionId, pending, postAmount, atMs) {
      store.resolve(transactionId, pending, postAmount, atMs);
    },
    insertCoupon: (coupon) => coupons.insert(coupon),
    endCoupon: (couponId, status, atMs) => coupons.end(couponId, status, atMs),
    insertReservation(row) {
      const journal = store.takeRequestJournal();
      assert(journal, `reservation ${row.requestId} carries its reserve transaction`);
      assert(reservations.insert(row, journal), `reservation ${row.requestId} is new`);
      admitted = {
        ...row,
        status: 'reserved',
        backendId: null,
        checkpointInputTokens: null,
        checkpointOutputTokens: null,
      };
    },
    endReservation: (requestId, status, atMs) => reservations.end(requestId, status, atMs),
    insertUsage: (row) => reservations.insertUsage(row, store.takeRequestJournal()),
    takeReservedHolds() {
      const taken = reserving && admitted && { ...reserving, reservation: admitted };
      reserving = undefined;
      admitted = undefined;
      return taken;
    },
  };
}
