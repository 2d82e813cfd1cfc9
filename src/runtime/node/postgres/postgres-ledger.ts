/**
 * The Ledger port over PostgreSQL, for several gateway replicas on one database. Each money
 * movement is one READ COMMITTED transaction on its own pooled connection that first locks the
 * tenant (postgres-ledger-unit.ts), then runs the same operation code as the SQLite ledger
 * (src/billing/*-operation.ts) and writes it with guarded updates; a payout, which moves no
 * tenant's money, locks cash and the provider's payable account instead. Nothing is decided on a
 * read made outside the lock, so no replica can act on a balance another is changing. A
 * transaction aborted for a serialization failure or deadlock is retried whole, same input, a
 * bounded number of times (limits.ledgerConflictRetryCountMax).
 *
 * A unit of work is two round trips on a pipelined connection: the BEGIN, the tenant's lock and
 * every read in one; the writes and the COMMIT in the other. Settle and release lock their
 * tenant through the reservation, in that same first round trip. Reserves, settles and releases
 * of concurrent requests share those two round trips (postgres-group-commit.ts): one
 * transaction per group, each operation still answered on its own.
 */
import type pg from 'pg';
import { assert } from '../../../assert.ts';
import { adjustmentKey, adjustmentOperation } from '../../../billing/adjustment-operation.ts';
import {
  endGrantOperation,
  grantOperation,
  topUpOperation,
} from '../../../billing/grant-operations.ts';
import {
  leaseChargeKey,
  leaseChargeOperation,
  leaseEndKey,
  leaseEndOperation,
  withRecordedPayers,
} from '../../../billing/lease-operation.ts';
import type { Ledger, ReleaseInput, SettleInput } from '../../../billing/ledger.ts';
import { type AccountKind, accountIds, systemAccounts } from '../../../billing/ledger-accounts.ts';
import { payoutKey, payoutOperation } from '../../../billing/payout-operation.ts';
import { rejectedUsageRow, reserveOperation } from '../../../billing/reserve-operation.ts';
import {
  duplicateSettlement,
  releaseOperation,
  settleOperation,
  sweepOperation,
} from '../../../billing/settle-operation.ts';
import { storageChargeOperation, storageReference } from '../../../billing/storage-operation.ts';
import { createPostgresGroupCommit } from './postgres-group-commit.ts';
import { insertUsageRow } from './postgres-ledger-journal.ts';
import type { OrphanCriteria, TenantLock, UnitReads } from './postgres-ledger-loads.ts';
import { createPostgresLedgerReads } from './postgres-ledger-reads.ts';
import { textOf } from './postgres-ledger-rows.ts';
import { PostgresLedgerUnit } from './postgres-ledger-unit.ts';
import { inTransaction } from './postgres-transaction.ts';

/** Most orphaned holds one sweep handles; the next sweep takes the rest. */
const sweepBatchMax = 500;

export type PostgresLedgerOptions = {
  /** Retries of a transaction aborted by a conflict (40001, 40P01), beyond the first attempt. */
  retryCountMax: number;
  /** Group the hot operations of concurrent requests (on unless measuring it: bench/ledger). */
  groupCommit?: boolean;
};

/** Opens the ledger: the shared accounts exist once this resolves. */
export async function openPostgresLedger(
  pool: pg.Pool,
  options: PostgresLedgerOptions,
): Promise<Ledger> {
  const { retryCountMax } = options;
  assert(Number.isSafeInteger(retryCountMax) && retryCountMax >= 0, 'a retry limit is set');
  /** Accounts are never deleted: one created once needs no second INSERT from this process. */
  const knownAccountIds = new Set<string>();

  async function ensureAccount(id: string, kind: AccountKind, ownerId: string | null) {
    if (knownAccountIds.has(id)) {
      return;
    }
    await pool.query({
      name: 'tb_ensure_account',
      text: `INSERT INTO accounts (id, kind, owner_id, no_overdraft, debits_posted, credits_posted,
               debits_pending, credits_pending)
             VALUES ($1, $2, $3, $4, 0, 0, 0, 0) ON CONFLICT (id) DO NOTHING`,
      values: [id, kind, ownerId, kind === 'wallet' || kind === 'coupon'],
    });
    knownAccountIds.add(id);
  }
  for (const [id, kind] of systemAccounts) {
    await ensureAccount(id, kind, null);
  }
  const reads = createPostgresLedgerReads(pool, retryCountMax);

  /**
   * One unit of work: the tenant locked (its wallet created first if need be) and `reads`
   * loaded, in one round trip with the BEGIN; `body` runs the operation (loading more if it
   * must); the journal is written and committed in a second round trip. All or nothing. `body`
   * is told the tenant locked: undefined when locking through a reservation that does not exist,
   * or when the operation moves no tenant's money (a payout).
   */
  async function write<Result>(
    lock: TenantLock | undefined,
    reads: UnitReads,
    body: (unit: PostgresLedgerUnit, tenantId: string | undefined) => Promise<Result> | Result,
  ): Promise<{ result: Result; storedId: (id: number) => number }> {
    if (lock !== undefined && 'tenantId' in lock) {
      await ensureAccount(accountIds.wallet(lock.tenantId), 'wallet', lock.tenantId);
    }
    const { result, storedId, createdIds } = await inTransaction(
      pool,
      { retryCountMax, isolation: 'read committed', readOnly: false, genericPlans: true },
      async (client, { begun, commitWith }) => {
        const unit = new PostgresLedgerUnit(client, knownAccountIds);
        // Sent before the first await: it leaves in the BEGIN's write (postgres-transaction.ts).
        const tenantId = await unit.load(lock, reads);
        const result = await body(unit, tenantId);
        // Nothing is written unless the server did open the transaction.
        await begun;
        const storedId = await unit.flushAndCommit(commitWith);
        return { result, storedId, createdIds: unit.createdSharedAccountIds() };
      },
    );
    for (const id of createdIds) {
      knownAccountIds.add(id);
    }
    return { result, storedId };
  }

  async function sweepOne(
    requestId: string,
    tenantId: string,
    criteria: OrphanCriteria,
    atMs: number,
  ) {
    // Checked again under the lock: another replica's sweeper may have ended it meanwhile.
    const reads = { orphan: { requestId, criteria } };
    const { result } = await write({ tenantId }, reads, async (unit) => {
      const reservation = unit.reservation(requestId);
      if (!reservation) {
        return false;
      }
      await unit.load(undefined, {
        holdsOf: requestId,
        price: reservation.priceId,
        ...(reservation.backendId === null ? {} : { backend: reservation.backendId }),
      });
      const placement =
        reservation.backendId === null ? undefined : unit.backendPlacement(reservation.backendId);
      if (placement) {
        await unit.load(undefined, { payout: placement.providerId });
      }
      sweepOperation(unit, reservation, atMs);
      return true;
    });
    return result;
  }

  const grouped = createPostgresGroupCommit(pool, {
    retryCountMax,
    knownAccountIds,
    batched: options.groupCommit ?? true,
  });

  /** What a settle reads: its reservation with the holds, and its provider's payout rates. */
  const settleReads = (input: SettleInput): UnitReads => ({
    reservation: input.requestId,
    holdsOf: input.requestId,
    payout: input.servedBy.providerId,
  });

  async function settleAlone(input: SettleInput) {
    const { requestId } = input;
    // The tenant is the reservation's, locked in the same round trip that reads it.
    return (
      await write({ requestId }, settleReads(input), async (unit, tenantId) => {
        const reservation = unit.reservation(requestId);
        assert(tenantId && reservation, `settle of ${requestId} without a reservation`);
        if (reservation.status !== 'reserved') {
          await unit.load(undefined, { usageCost: requestId });
          return duplicateSettlement(unit, reservation);
        }
        return settleOperation(unit, input, reservation);
      })
    ).result;
  }

  function release(unit: PostgresLedgerUnit, input: ReleaseInput): void {
    const reservation = unit.reservation(input.requestId);
    if (reservation?.status === 'reserved') {
      releaseOperation(unit, input, reservation);
    }
  }

  return {
    reserve: async (input) => {
      const lock = { tenantId: input.tenantId };
      const reads = { reservation: input.requestId };
      await ensureAccount(accountIds.wallet(input.tenantId), 'wallet', input.tenantId);
      return grouped({
        lock,
        reads,
        fits: () => true,
        run: (unit) => reserveOperation(unit, input),
        alone: async () =>
          (await write(lock, reads, (unit) => reserveOperation(unit, input))).result,
      });
    },
    checkpoint: async (input) => {
      // Checkpoints of one stream go out on different pooled connections and may land out of
      // order: an older one (earlier, or as early with less output) never replaces a newer one.
      await pool.query({
        name: 'tb_checkpoint',
        text: `UPDATE reservations SET checkpoint_input_tokens = $1, checkpoint_output_tokens = $2,
                 checkpoint_at_ms = $3, backend_id = COALESCE($4, backend_id)
               WHERE request_id = $5 AND status = 'reserved' AND (checkpoint_at_ms IS NULL
                 OR (checkpoint_at_ms, COALESCE(checkpoint_output_tokens, 0)) <= ($3, $2))`,
        values: [
          input.inputTokens,
          input.outputTokens,
          input.atMs,
          input.backendId,
          input.requestId,
        ],
      });
    },
    recordVerification: async (requestId, recountedOutputTokens) => {
      await pool.query({
        name: 'tb_record_verification',
        text: 'UPDATE usage_records SET verified_output_tokens = $1 WHERE request_id = $2',
        values: [recountedOutputTokens, requestId],
      });
    },
    settle: (input) => {
      const { requestId } = input;
      return grouped({
        lock: { requestId },
        reads: settleReads(input),
        // A settle repeated answers from the usage record: more reads, so it runs alone.
        fits: (unit) => unit.reservation(requestId)?.status === 'reserved',
        run: (unit) => {
          const reservation = unit.reservation(requestId);
          assert(reservation, `settle of ${requestId} without a reservation`);
          return settleOperation(unit, input, reservation);
        },
        alone: () => settleAlone(input),
      });
    },
    release: async (input) => {
      const lock = { requestId: input.requestId };
      const reads = { reservation: input.requestId, holdsOf: input.requestId };
      await grouped({
        lock,
        reads,
        fits: () => true,
        run: (unit) => release(unit, input),
        alone: async () => {
          await write(lock, reads, (unit) => release(unit, input));
        },
      });
    },
    recordRejected: async (input) => {
      await insertUsageRow(pool, rejectedUsageRow(input));
    },
    sweep: async ({ atMs, ownerSilentBeforeMs, overdue }) => {
      const criteria = {
        ownerSilentBeforeMs,
        overdueInstanceId: overdue.instanceId,
        overdueBeforeMs: overdue.admittedBeforeMs,
      };
      const candidates = await pool.query({
        name: 'tb_orphans',
        text: `SELECT r.request_id, r.tenant_id FROM reservations r
               WHERE r.status = 'reserved' AND (NOT EXISTS (
                 SELECT 1 FROM gateway_instances g
                 WHERE g.id = r.instance_id AND g.heartbeat_at_ms >= $1)
                 OR (r.instance_id = $2 AND r.admitted_at_ms < $3))
               ORDER BY r.admitted_at_ms LIMIT $4`,
        values: [
          ownerSilentBeforeMs,
          criteria.overdueInstanceId,
          criteria.overdueBeforeMs,
          sweepBatchMax,
        ],
      });
      let swept = 0;
      for (const row of candidates.rows as Record<string, unknown>[]) {
        if (await sweepOne(textOf(row.request_id), textOf(row.tenant_id), criteria, atMs)) {
          swept += 1;
        }
      }
      return swept;
    },
    heartbeat: async (instanceId, atMs) => {
      await pool.query({
        name: 'tb_heartbeat',
        text: `INSERT INTO gateway_instances (id, started_at_ms, heartbeat_at_ms) VALUES ($1, $2, $2)
               ON CONFLICT (id) DO UPDATE SET heartbeat_at_ms = excluded.heartbeat_at_ms`,
        values: [instanceId, atMs],
      });
    },

    topUp: async (input) => {
      const key = `topup:${input.tenantId}:${input.reference}`;
      const { result, storedId } = await write(
        { tenantId: input.tenantId },
        { transaction: key },
        (unit) => topUpOperation(unit, input),
      );
      return { ...result, transactionId: storedId(result.transactionId) };
    },
    payout: async (input) => {
      const reads = {
        operator: payoutKey(input.providerId, input.reference),
        sharedAccounts: [accountIds.cash, accountIds.providerPayable(input.providerId)],
      };
      const { result, storedId } = await write(undefined, reads, (unit) =>
        payoutOperation(unit, input),
      );
      const transactionId = storedId(result.payout.transactionId);
      return { ...result, payout: { ...result.payout, transactionId } };
    },
    adjust: async (input) => {
      const reads = { operator: adjustmentKey(input.tenantId, input.reference) };
      const { result, storedId } = await write({ tenantId: input.tenantId }, reads, (unit) =>
        adjustmentOperation(unit, input),
      );
      const transactionId = storedId(result.adjustment.transactionId);
      return { ...result, adjustment: { ...result.adjustment, transactionId } };
    },
    grantCoupon: async (input) => {
      await ensureAccount(accountIds.subsidyReceivable(input.program), 'subsidy_receivable', null);
      return (await write({ tenantId: input.tenantId }, {}, (unit) => grantOperation(unit, input)))
        .result;
    },
    chargeStorage: async (input) => {
      const reference = storageReference(input.tenantId, input.tickStartMs);
      const before = storageReference(input.tenantId, input.tickStartMs - input.tickMs);
      return (
        await write({ tenantId: input.tenantId }, { transaction: reference }, async (unit) => {
          await unit.load(undefined, { transaction: before });
          return storageChargeOperation(unit, input);
        })
      ).result;
    },
    chargeLease: async (input) => {
      const charged = await write(
        { tenantId: input.tenantId },
        { transaction: leaseChargeKey(input.leaseId) },
        (unit) => leaseChargeOperation(unit, input),
      );
      return withRecordedPayers(charged.result, input.leaseId, reads);
    },
    endLease: async (input) => {
      const reads = { transaction: leaseEndKey(input.leaseId) };
      return (
        await write({ tenantId: input.tenantId }, reads, async (unit) => {
          for (const delivered of input.delivered) {
            await unit.load(undefined, { payout: delivered.providerId });
          }
          return leaseEndOperation(unit, input);
        })
      ).result;
    },
    voidCoupon: async (couponId, atMs) => {
      const owner = await pool.query({
        name: 'tb_coupon_tenant',
        text: 'SELECT tenant_id FROM coupons WHERE id = $1',
        values: [couponId],
      });
      const row = owner.rows[0] as Record<string, unknown> | undefined;
      if (!row) {
        return undefined;
      }
      return (
        await write({ tenantId: textOf(row.tenant_id) }, {}, (unit) => {
          const coupon = unit.coupon(couponId);
          if (coupon?.status === 'active') {
            endGrantOperation(unit, coupon, 'voided', atMs);
          }
          return unit.coupon(couponId);
        })
      ).result;
    },
    expireCoupons: async (atMs) => {
      const tenants = await pool.query({
        name: 'tb_expiring_tenants',
        text: `SELECT DISTINCT tenant_id FROM coupons
               WHERE status = 'active' AND expires_at_ms <= $1 ORDER BY 1`,
        values: [atMs],
      });
      let expired = 0;
      for (const row of tenants.rows as Record<string, unknown>[]) {
        const tenantId = textOf(row.tenant_id);
        const { result } = await write({ tenantId }, {}, (unit) => {
          const ending = unit
            .couponsOfTenant(tenantId)
            .filter(
              (coupon) =>
                coupon.status === 'active' &&
                coupon.expiresAtMs !== null &&
                coupon.expiresAtMs <= atMs,
            )
            .sort((left, right) => (left.id < right.id ? -1 : left.id > right.id ? 1 : 0));
          for (const coupon of ending) {
            endGrantOperation(unit, coupon, 'expired', atMs);
          }
          return ending.length;
        });
        expired += result;
      }
      return expired;
    },
    ...reads,
  };
}
