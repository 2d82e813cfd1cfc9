/**
 * The Ledger port over SQLite (better-sqlite3). Each operation is one synchronous IMMEDIATE
 * transaction, so reading balances, planning with the pure waterfall and writing the guarded
 * transfers happen atomically even when two processes share the file. Idempotency keys
 * (`reserve:`, `settle:`, `topup:` ...) make every operation safe to repeat.
 */
import type Database from 'better-sqlite3';
import { assert } from '../../assert.ts';
import { type PinnedPrice, shareOf, tokenCost } from '../../billing/cost.ts';
import type {
  FinalUsage,
  Ledger,
  PaidBy,
  ReleaseInput,
  ReserveInput,
  ServedBy,
  SettleInput,
  SettleResult,
} from '../../billing/ledger.ts';
import { planReservation } from '../../billing/reservation-plan.ts';
import { planSettlement } from '../../billing/settlement-plan.ts';
import { allocateLine, type ChargeLine, type GrantTerms } from '../../billing/waterfall.ts';
import { createGroupCommit, type GroupCommit } from './group-commit.ts';
import { createCouponRows } from './sqlite-coupon-rows.ts';
import { createLedgerAdministration } from './sqlite-ledger-administration.ts';
import { createLedgerReads } from './sqlite-ledger-reads.ts';
import { accountIds, createLedgerStore, type PendingTransfer } from './sqlite-ledger-store.ts';
import { createReservationRows, type ReservationRow } from './sqlite-reservations.ts';

/** Most orphaned holds one sweep handles; the next sweep takes the rest. */
const sweepBatchMax = 500;

export type SqliteLedgerOptions = {
  /** Batch the operations of one event-loop turn into one transaction (off only to measure it). */
  groupCommit: boolean;
};

export function createSqliteLedger(
  connection: Database.Database,
  options: SqliteLedgerOptions = { groupCommit: true },
): Ledger {
  const store = createLedgerStore(connection);
  const coupons = createCouponRows(connection);
  const reservations = createReservationRows(connection);
  const lookups = {
    payoutBps: connection.prepare('SELECT payout_bps AS payoutBps FROM providers WHERE id = ?'),
    backendProvider: connection.prepare(
      'SELECT provider_id AS providerId, region FROM backends WHERE id = ?',
    ),
    price: connection
      .prepare(
        `SELECT input_per_million AS input, cached_input_per_million AS cachedInput,
           output_per_million AS output FROM prices WHERE id = ?`,
      )
      .safeIntegers(true),
  };
  const systemAccounts = [
    [accountIds.holds, 'holds'],
    [accountIds.revenue, 'revenue'],
    [accountIds.cash, 'cash'],
    [accountIds.writeOff, 'write_off'],
    [accountIds.breakage, 'breakage'],
  ] as const;
  for (const [id, kind] of systemAccounts) {
    store.ensureAccount(id, kind, null);
  }

  const immediate: GroupCommit = options.groupCommit
    ? createGroupCommit(connection)
    : async (body) => connection.transaction(body).immediate();

  function walletAvailable(tenantId: string): bigint {
    store.ensureAccount(accountIds.wallet(tenantId), 'wallet', tenantId);
    return store.availableMicro(accountIds.wallet(tenantId));
  }

  function reserveNow(input: ReserveInput) {
    const existing = reservations.get(input.requestId);
    if (existing) {
      return {
        ok: true as const,
        reservedMicro: existing.reservedAmount,
        outputTokensMax: input.outputTokensMax,
        clamped: false,
      };
    }
    const plan = planReservation({
      price: input.price,
      promptTokensEstimate: input.promptTokensEstimate,
      outputTokensMax: input.outputTokensMax,
      clampAllowed: input.clampAllowed,
      line: { kind: 'compute', model: input.model, region: input.region, atMs: input.atMs },
      grants: coupons.ofTenant(input.tenantId),
      walletAvailableMicro: walletAvailable(input.tenantId),
    });
    if (!plan.ok) {
      return {
        ok: false as const,
        affordableOutputTokens: plan.affordableOutputTokens,
        neededMicro: plan.estimateMicro,
        availableMicro: plan.availableMicro,
      };
    }
    const transactionId = store.insertTransaction({
      idempotencyKey: `reserve:${input.requestId}`,
      kind: 'reserve',
      tenantId: input.tenantId,
      requestId: input.requestId,
      reference: null,
      amountMicro: plan.estimateMicro,
      atMs: input.atMs,
    });
    for (const take of plan.allocation.coupons) {
      store.hold(
        transactionId,
        accountIds.coupon(take.grantId),
        accountIds.holds,
        take.amountMicro,
        input.atMs,
      );
    }
    if (plan.allocation.walletMicro > 0n) {
      store.hold(
        transactionId,
        accountIds.wallet(input.tenantId),
        accountIds.holds,
        plan.allocation.walletMicro,
        input.atMs,
      );
    }
    reservations.insert({
      requestId: input.requestId,
      tenantId: input.tenantId,
      keyId: input.keyId,
      model: input.model,
      region: input.region,
      priceId: input.price.priceId,
      multiplierBps: input.price.multiplierBps,
      reservedAmount: plan.estimateMicro,
      instanceId: input.instanceId,
      promptTokensEstimate: input.promptTokensEstimate,
      admittedAtMs: input.atMs,
    });
    return {
      ok: true as const,
      reservedMicro: plan.estimateMicro,
      outputTokensMax: plan.outputTokensMax,
      clamped: plan.clamped,
    };
  }

  /** The holds of a reservation still open, each with its coupon's terms when it is one. */
  function heldLegs(requestId: string) {
    const reserve = store.findTransaction(`reserve:${requestId}`);
    const pending = reserve ? store.openPendingOf(reserve.id) : [];
    return pending.map((transfer: PendingTransfer) => {
      const couponId = transfer.debitAccountId.startsWith('coupon:')
        ? transfer.debitAccountId.slice('coupon:'.length)
        : undefined;
      return {
        pending: transfer,
        heldMicro: transfer.amount,
        grant: couponId === undefined ? undefined : coupons.byId(couponId),
      };
    });
  }

  /** After holds are freed, a grant that ended meanwhile passes its freed money on at once. */
  function passOnEndedGrants(
    grants: readonly (GrantTerms | undefined)[],
    transactionId: number,
    atMs: number,
  ) {
    const endedIds = new Set(
      grants.flatMap((grant) => (grant && grant.status !== 'active' ? [grant.id] : [])),
    );
    for (const grantId of endedIds) {
      const grant = coupons.byId(grantId);
      if (!grant || grant.status === 'active' || grant.availableMicro <= 0n) {
        continue;
      }
      const destination =
        grant.status === 'voided'
          ? accountIds.subsidyReceivable(grant.program)
          : accountIds.breakage;
      store.post(
        transactionId,
        accountIds.coupon(grant.id),
        destination,
        grant.availableMicro,
        atMs,
      );
    }
  }

  function settleNow(input: SettleInput, reservation: ReservationRow): SettleResult {
    const costMicro = tokenCost(input.usage, input.price);
    const line: ChargeLine = {
      kind: 'compute',
      costMicro,
      model: reservation.model,
      region: input.servedBy.region,
      atMs: reservation.admittedAtMs,
    };
    const transactionId = store.insertTransaction({
      idempotencyKey: `settle:${input.requestId}`,
      kind: 'settle',
      tenantId: reservation.tenantId,
      requestId: input.requestId,
      reference: null,
      amountMicro: costMicro,
      atMs: input.atMs,
    });
    const legs = heldLegs(input.requestId);
    const plan = planSettlement(line, legs);
    const paidBy: PaidBy[] = [];
    for (const post of plan.posts) {
      store.resolve(transactionId, post.pending, post.postMicro, input.atMs);
      if (post.postMicro > 0n) {
        paidBy.push(paidFrom(post.pending.debitAccountId, post.postMicro));
      }
    }
    const remainingMicro = payRemainder(transactionId, reservation, line, plan, paidBy, input.atMs);
    if (remainingMicro > 0n) {
      store.post(transactionId, accountIds.writeOff, accountIds.holds, remainingMicro, input.atMs);
      paidBy.push({ source: 'write_off', id: null, amountMicro: remainingMicro });
    }
    const providerShareMicro = distribute(transactionId, input.servedBy, costMicro, input.atMs);
    passOnEndedGrants(
      legs.map((leg) => leg.grant),
      transactionId,
      input.atMs,
    );
    assert(reservations.end(input.requestId, 'settled', input.atMs), 'a reservation settles once');
    reservations.insertUsage({
      ...usageFields(reservation, input.servedBy, input.usage),
      outcome: input.outcome,
      costMicro,
      providerShareMicro,
      paidBy: mergePaidBy(paidBy),
      priceId: input.price.priceId,
      settledAtMs: input.atMs,
    });
    return {
      costMicro,
      paidBy: mergePaidBy(paidBy),
      walletAvailableMicro: walletAvailable(reservation.tenantId),
      duplicate: false,
    };
  }

  /** The fresh waterfall for what the holds could not cover: coupons, then the wallet, posted. */
  function payRemainder(
    transactionId: number,
    reservation: ReservationRow,
    line: ChargeLine,
    plan: ReturnType<typeof planSettlement<PendingTransfer>>,
    paidBy: PaidBy[],
    atMs: number,
  ): bigint {
    if (plan.remainingMicro === 0n) {
      return 0n;
    }
    const allocation = allocateLine(
      line,
      coupons.ofTenant(reservation.tenantId),
      walletAvailable(reservation.tenantId),
      plan.coveredMicro,
      plan.remainingMicro,
    );
    for (const take of allocation.coupons) {
      store.post(
        transactionId,
        accountIds.coupon(take.grantId),
        accountIds.holds,
        take.amountMicro,
        atMs,
      );
      paidBy.push({ source: 'coupon', id: take.grantId, amountMicro: take.amountMicro });
    }
    if (allocation.walletMicro > 0n) {
      const wallet = accountIds.wallet(reservation.tenantId);
      store.post(transactionId, wallet, accountIds.holds, allocation.walletMicro, atMs);
      paidBy.push({ source: 'wallet', id: null, amountMicro: allocation.walletMicro });
    }
    return allocation.shortfallMicro;
  }

  /** What was collected into holds goes out: the provider's share, the rest to revenue. */
  function distribute(
    transactionId: number,
    servedBy: ServedBy,
    costMicro: bigint,
    atMs: number,
  ): bigint {
    const payout = lookups.payoutBps.get(servedBy.providerId) as { payoutBps: number } | undefined;
    const providerShareMicro = shareOf(costMicro, payout?.payoutBps ?? 0);
    if (providerShareMicro > 0n) {
      const payable = accountIds.providerPayable(servedBy.providerId);
      store.ensureAccount(payable, 'provider_payable', servedBy.providerId);
      store.post(transactionId, accountIds.holds, payable, providerShareMicro, atMs);
    }
    if (costMicro - providerShareMicro > 0n) {
      store.post(
        transactionId,
        accountIds.holds,
        accountIds.revenue,
        costMicro - providerShareMicro,
        atMs,
      );
    }
    return providerShareMicro;
  }

  function releaseNow(input: ReleaseInput, reservation: ReservationRow): void {
    const transactionId = store.insertTransaction({
      idempotencyKey: `release:${input.requestId}`,
      kind: 'release',
      tenantId: reservation.tenantId,
      requestId: input.requestId,
      reference: null,
      amountMicro: 0n,
      atMs: input.atMs,
    });
    const legs = heldLegs(input.requestId);
    for (const leg of legs) {
      store.resolve(transactionId, leg.pending, 0n, input.atMs);
    }
    passOnEndedGrants(
      legs.map((leg) => leg.grant),
      transactionId,
      input.atMs,
    );
    assert(
      reservations.end(input.requestId, 'released', input.atMs),
      'a reservation is released once',
    );
    reservations.insertUsage({
      ...usageFields(reservation, input.servedBy, undefined),
      outcome: input.outcome,
      costMicro: 0n,
      providerShareMicro: 0n,
      paidBy: [],
      priceId: reservation.priceId,
      settledAtMs: input.atMs,
    });
  }

  function duplicateSettle(reservation: ReservationRow): SettleResult {
    const recorded = reservations.usageCostAndPayment(reservation.requestId);
    return {
      costMicro: recorded?.costMicro ?? 0n,
      paidBy: recorded?.paidBy ?? [],
      walletAvailableMicro: walletAvailable(reservation.tenantId),
      duplicate: true,
    };
  }

  /** A hold left by a gateway that died: settled from its checkpoint, else released. */
  function sweepOne(reservation: ReservationRow, atMs: number): void {
    const backend =
      reservation.backendId === null
        ? undefined
        : (lookups.backendProvider.get(reservation.backendId) as
            | { providerId: string; region: string }
            | undefined);
    const servedBy =
      backend && reservation.backendId !== null
        ? {
            backendId: reservation.backendId,
            providerId: backend.providerId,
            region: backend.region,
          }
        : undefined;
    const price = lookups.price.get(reservation.priceId) as
      | { input: bigint; cachedInput: bigint; output: bigint }
      | undefined;
    if (reservation.checkpointInputTokens === null || !servedBy || !price) {
      releaseNow(
        { requestId: reservation.requestId, outcome: 'gateway_crash', servedBy, atMs },
        reservation,
      );
      return;
    }
    const pinned: PinnedPrice = {
      priceId: reservation.priceId,
      inputPerMillion: price.input,
      cachedInputPerMillion: price.cachedInput,
      outputPerMillion: price.output,
      multiplierBps: reservation.multiplierBps,
    };
    settleNow(
      {
        requestId: reservation.requestId,
        usage: {
          inputTokens: reservation.checkpointInputTokens,
          cachedInputTokens: 0,
          outputTokens: reservation.checkpointOutputTokens ?? 0,
          reasoningTokens: undefined,
          source: 'gateway_count',
        },
        outcome: 'gateway_crash',
        servedBy,
        price: pinned,
        atMs,
      },
      reservation,
    );
  }

  return {
    reserve: async (input) => immediate(() => reserveNow(input)),
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
        const reservation = reservations.get(input.requestId);
        assert(reservation, `settle of ${input.requestId} without a reservation`);
        return reservation.status === 'reserved'
          ? settleNow(input, reservation)
          : duplicateSettle(reservation);
      }),
    release: async (input) =>
      immediate(() => {
        const reservation = reservations.get(input.requestId);
        if (reservation?.status === 'reserved') {
          releaseNow(input, reservation);
        }
      }),
    recordRejected: async (input) =>
      immediate(() => {
        reservations.insertUsage({
          requestId: input.requestId,
          tenantId: input.tenantId,
          keyId: input.keyId,
          model: input.model,
          region: input.region,
          backendId: null,
          providerId: null,
          inputTokens: null,
          cachedInputTokens: null,
          outputTokens: null,
          reasoningTokens: null,
          usageSource: null,
          outcome: 'rejected',
          costMicro: 0n,
          providerShareMicro: 0n,
          paidBy: [],
          priceId: input.price.priceId,
          createdAtMs: input.atMs,
          settledAtMs: input.atMs,
        });
      }),
    sweep: async ({ atMs, ownerSilentBeforeMs, admittedBeforeMs }) =>
      immediate(() => {
        const orphaned = reservations.orphaned({
          admittedBeforeMs,
          ownerSilentBeforeMs,
          limit: sweepBatchMax,
        });
        for (const reservation of orphaned) {
          sweepOne(reservation, atMs);
        }
        return orphaned.length;
      }),
    heartbeat: async (instanceId, atMs) => {
      reservations.heartbeat(instanceId, atMs);
    },
    ...createLedgerAdministration({ connection, store, coupons, immediate, walletAvailable }),
    ...createLedgerReads({ connection, coupons, walletAvailable }),
  };
}

function paidFrom(accountId: string, amountMicro: bigint): PaidBy {
  return accountId.startsWith('coupon:')
    ? { source: 'coupon', id: accountId.slice('coupon:'.length), amountMicro }
    : { source: 'wallet', id: null, amountMicro };
}

/** One entry per payer, in the order they first paid. */
function mergePaidBy(paidBy: PaidBy[]): PaidBy[] {
  const merged = new Map<string, PaidBy>();
  for (const paid of paidBy) {
    const key = `${paid.source}:${paid.id ?? ''}`;
    const held = merged.get(key);
    merged.set(
      key,
      held ? { ...held, amountMicro: held.amountMicro + paid.amountMicro } : { ...paid },
    );
  }
  return [...merged.values()];
}

function usageFields(
  reservation: ReservationRow,
  servedBy: ServedBy | undefined,
  usage: FinalUsage | undefined,
) {
  return {
    requestId: reservation.requestId,
    tenantId: reservation.tenantId,
    keyId: reservation.keyId,
    model: reservation.model,
    region: servedBy?.region ?? null,
    backendId: servedBy?.backendId ?? null,
    providerId: servedBy?.providerId ?? null,
    inputTokens: usage?.inputTokens ?? null,
    cachedInputTokens: usage?.cachedInputTokens ?? null,
    outputTokens: usage?.outputTokens ?? null,
    reasoningTokens: usage?.reasoningTokens ?? null,
    usageSource: usage?.source ?? null,
    createdAtMs: reservation.admittedAtMs,
  };
}
