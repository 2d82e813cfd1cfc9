/**
 * A provider's payouts on Cloudflare Workers, run by the provider's own Durable Object
 * (provider-payout-object.ts). What a provider is owed is spread over the tenants' objects (each
 * holds `provider_payable:{provider}` for what its tenant's requests earned it), so one payout is
 * several movements, and it must still move exactly its amount, once, and never more than is
 * owed. So a payout is first planned (each tenant's object pays at most what it owes, tenants in
 * id order) and recorded with its parts before any money moves; then each tenant's object pays
 * its part under the payout's own key (`payout:{provider}:{reference}`, so a part sent twice
 * moves once), and the plan is completed. A provider's payouts run one at a time here and an
 * unfinished plan is completed before the next is planned, so no two plans count the same money
 * (only payouts take from a payable account). A plan left unfinished by a failure is completed
 * by the next payout call (a retry of the same reference answers it as a duplicate) or by the
 * object's alarm. Otherwise it answers as the Node stores do: the same reference again is the
 * same payout, with another amount a conflict, and a payout above what is owed is refused.
 */
import { assert } from '../../../assert.ts';
import type { Ledger, PayoutInput, PayoutResult } from '../../../billing/ledger.ts';
import { formatMoney } from '../../../billing/money.ts';
import { referenceReused } from '../../../billing/operator-movement.ts';
import { payoutBeyondOwed } from '../../../billing/payout-operation.ts';
import { minimum } from '../../../billing/waterfall.ts';
import { mapBounded } from '../../../platform/map-bounded.ts';
import type { TenantFanOut } from '../ledger/tenant-fan-out.ts';
import type { PayoutPart, PayoutPlan, PayoutPlans } from './payout-plans.ts';

export type TenantPayoutLedger = Pick<Ledger, 'payout' | 'providerBalance'>;

export type ProviderPayoutParts = {
  plans: PayoutPlans;
  /** Runs `body` as one transaction of the object's storage. */
  atomic<Result>(body: () => Result): Result;
  ledgerOf(tenantId: string): TenantPayoutLedger;
  everyTenant: TenantFanOut;
  /** Tenant objects paid their parts at once. */
  concurrency: number;
  /** Makes sure the object's alarm will complete what is left unfinished. */
  completeLater(): Promise<void>;
  nowMs(): number;
};

export type ProviderPayouts = Pick<Ledger, 'payout' | 'payouts' | 'paidOut'> & {
  /** Completes every plan left unfinished. */
  completeUnfinished(): Promise<void>;
};

/** What each tenant's object pays of `amountMicro`: all it owes, in the order given, until paid. */
export function planPayoutParts(
  owed: readonly { tenantId: string; unpaidMicro: bigint }[],
  amountMicro: bigint,
): PayoutPart[] {
  const parts: PayoutPart[] = [];
  let leftMicro = amountMicro;
  for (const { tenantId, unpaidMicro } of owed) {
    const takenMicro = minimum(unpaidMicro, leftMicro);
    if (takenMicro > 0n) {
      parts.push({ tenantId, amountMicro: takenMicro });
      leftMicro -= takenMicro;
    }
  }
  assert(leftMicro === 0n, 'a payout is planned only within what is owed');
  return parts;
}

export function createProviderPayouts(parts: ProviderPayoutParts): ProviderPayouts {
  const { plans, atomic } = parts;
  let turn: Promise<unknown> = Promise.resolve();
  /** Runs `work` after every payout and completion before it, whatever became of them. */
  function oneAtATime<Result>(work: () => Promise<Result>): Promise<Result> {
    const run = turn.then(work, work);
    turn = run.catch(() => undefined);
    return run;
  }

  async function complete(plan: PayoutPlan): Promise<void> {
    const { providerId, reference, note, createdAtMs } = plan.record;
    await mapBounded(plan.parts, parts.concurrency, (part) =>
      parts.ledgerOf(part.tenantId).payout({
        providerId,
        amountMicro: part.amountMicro,
        reference,
        note,
        atMs: createdAtMs,
      }),
    );
    atomic(() => plans.complete(plan.record.transactionId, parts.nowMs()));
  }

  async function completeAll(): Promise<void> {
    for (const plan of plans.unfinished()) {
      await complete(plan);
    }
  }

  async function owedByTenant(providerId: string) {
    return parts.everyTenant(async (tenantId) => ({
      tenantId,
      unpaidMicro: (await parts.ledgerOf(tenantId).providerBalance(providerId)).unpaidMicro,
    }));
  }

  async function payout(input: PayoutInput): Promise<PayoutResult> {
    assert(input.amountMicro > 0n, 'a payout moves money');
    await completeAll();
    const earlier = plans.byReference(input.providerId, input.reference);
    if (earlier) {
      if (earlier.record.amountMicro !== input.amountMicro) {
        throw referenceReused(
          { reference: input.reference, noun: 'a payout' },
          formatMoney(earlier.record.amountMicro),
        );
      }
      const owed = await owedByTenant(input.providerId);
      const unpaidMicro = owed.reduce((sum, tenant) => sum + tenant.unpaidMicro, 0n);
      return { payout: earlier.record, unpaidMicro, duplicate: true };
    }
    const owed = await owedByTenant(input.providerId);
    const unpaidMicro = owed.reduce((sum, tenant) => sum + tenant.unpaidMicro, 0n);
    if (input.amountMicro > unpaidMicro) {
      throw payoutBeyondOwed(input.amountMicro, unpaidMicro);
    }
    const plan = atomic(() => plans.insert(input, planPayoutParts(owed, input.amountMicro)));
    await parts.completeLater();
    await complete(plan);
    return { payout: plan.record, unpaidMicro: unpaidMicro - input.amountMicro, duplicate: false };
  }

  return {
    payout: (input) => oneAtATime(() => payout(input)),
    payouts: async (providerId, limit) => plans.completed(providerId, limit),
    paidOut: async (providerId, range) => plans.paidOut(providerId, range),
    completeUnfinished: () => oneAtATime(completeAll),
  };
}
