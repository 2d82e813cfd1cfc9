import { describe, expect, it } from 'vitest';
import {
  BalanceTooLowError,
  LedgerConflictError,
  type PayoutInput,
  type PayoutRecord,
  type PayoutResult,
} from '../../../billing/ledger.ts';
import { payoutKey } from '../../../billing/payout-operation.ts';
import type { PayoutPart, PayoutPlan, PayoutPlans } from './payout-plans.ts';
import {
  createProviderPayouts,
  planPayoutParts,
  type TenantPayoutLedger,
} from './provider-payouts.ts';

const providerId = 'prv_1';

/** The plans as the object's tables keep them, in memory. */
function memoryPlans(): PayoutPlans {
  const rows: { record: PayoutRecord; parts: PayoutPart[]; completedAtMs: number | null }[] = [];
  const planOf = (row: (typeof rows)[number]): PayoutPlan => ({
    record: row.record,
    parts: row.parts,
  });
  return {
    byReference: (provider, reference) => {
      const found = rows.find(
        (row) => row.record.providerId === provider && row.record.reference === reference,
      );
      return found && planOf(found);
    },
    unfinished: () => rows.filter((row) => row.completedAtMs === null).map(planOf),
    insert(input: PayoutInput, parts: readonly PayoutPart[]) {
      const record: PayoutRecord = {
        transactionId: rows.length + 1,
        providerId: input.providerId,
        amountMicro: input.amountMicro,
        reference: input.reference,
        note: input.note,
        createdAtMs: input.atMs,
      };
      rows.push({ record, parts: [...parts], completedAtMs: null });
      return { record, parts: [...parts] };
    },
    complete(planId, atMs) {
      const row = rows.find((each) => each.record.transactionId === planId);
      if (row && row.completedAtMs === null) {
        row.completedAtMs = atMs;
      }
    },
    completed: (provider, limit) =>
      rows
        .filter((row) => row.record.providerId === provider && row.completedAtMs !== null)
        .map((row) => row.record)
        .reverse()
        .slice(0, limit),
    paidOut: (provider, range) =>
      rows
        .filter(
          (row) =>
            row.record.providerId === provider &&
            row.completedAtMs !== null &&
            row.record.createdAtMs >= range.fromMs &&
            row.record.createdAtMs < range.toMs,
        )
        .reduce((sum, row) => sum + row.record.amountMicro, 0n),
  };
}

/** A tenant object's payable account to the provider, paying each key once like the store. */
class TenantPayable implements TenantPayoutLedger {
  paidMicro = 0n;
  readonly moved = new Map<string, bigint>();
  /** Calls of `payout` that fail as an unreachable object would, before any money moves. */
  failuresLeft = 0;

  constructor(readonly earnedMicro: bigint) {}

  async providerBalance() {
    const { earnedMicro, paidMicro } = this;
    return { earnedMicro, paidMicro, unpaidMicro: earnedMicro - paidMicro };
  }

  async payout(input: PayoutInput): Promise<PayoutResult> {
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new Error('the tenant object did not answer');
    }
    const key = payoutKey(input.providerId, input.reference);
    const duplicate = this.moved.has(key);
    if (!duplicate) {
      if (input.amountMicro > this.earnedMicro - this.paidMicro) {
        throw new BalanceTooLowError('a part above what this tenant owes', 0n);
      }
      this.moved.set(key, input.amountMicro);
      this.paidMicro += input.amountMicro;
    }
    const payout = { transactionId: 1, ...input, createdAtMs: input.atMs };
    return { payout, unpaidMicro: this.earnedMicro - this.paidMicro, duplicate };
  }
}

function world(earned: Record<string, bigint>) {
  const tenants = new Map(
    Object.entries(earned).map(([id, micro]) => [id, new TenantPayable(micro)]),
  );
  let alarmsAsked = 0;
  const payouts = createProviderPayouts({
    plans: memoryPlans(),
    atomic: (body) => body(),
    ledgerOf: (tenantId) => {
      const tenant = tenants.get(tenantId);
      if (!tenant) {
        throw new Error(`no tenant ${tenantId}`);
      }
      return tenant;
    },
    everyTenant: async (visit) => Promise.all([...tenants.keys()].sort().map(visit)),
    concurrency: 2,
    completeLater: async () => {
      alarmsAsked += 1;
    },
    nowMs: () => 5_000,
  });
  const tenant = (id: string) => tenants.get(id) as TenantPayable;
  const paidMicro = () => [...tenants.values()].reduce((sum, each) => sum + each.paidMicro, 0n);
  return { payouts, tenant, paidMicro, alarmsAsked: () => alarmsAsked };
}

const input = (reference: string, amountMicro: bigint): PayoutInput => ({
  providerId,
  amountMicro,
  reference,
  note: null,
  atMs: 1_000,
});
const always = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };

describe('planPayoutParts', () => {
  it('takes all each tenant owes, in the order given, until the amount is paid', () => {
    const owed = [
      { tenantId: 'ten_a', unpaidMicro: 3n },
      { tenantId: 'ten_b', unpaidMicro: 0n },
      { tenantId: 'ten_c', unpaidMicro: 5n },
      { tenantId: 'ten_d', unpaidMicro: 9n },
    ];
    expect(planPayoutParts(owed, 7n)).toEqual([
      { tenantId: 'ten_a', amountMicro: 3n },
      { tenantId: 'ten_c', amountMicro: 4n },
    ]);
    expect(() => planPayoutParts(owed, 18n)).toThrow('within what is owed');
  });
});

describe('a payout spread over the tenant objects', () => {
  it('moves exactly its amount from the tenants, once per reference', async () => {
    const { payouts, tenant, paidMicro } = world({ ten_a: 4n, ten_b: 10n, ten_c: 1n });
    const first = await payouts.payout(input('wire-1', 12n));
    expect(first).toMatchObject({ unpaidMicro: 3n, duplicate: false });
    expect([
      tenant('ten_a').paidMicro,
      tenant('ten_b').paidMicro,
      tenant('ten_c').paidMicro,
    ]).toEqual([4n, 8n, 0n]);
    const again = await payouts.payout(input('wire-1', 12n));
    expect(again).toEqual({ payout: first.payout, unpaidMicro: 3n, duplicate: true });
    expect(paidMicro()).toBe(12n);
    expect(await payouts.payouts(providerId, 10)).toEqual([first.payout]);
    expect(await payouts.paidOut(providerId, always)).toBe(12n);
  });

  it('refuses a reused reference and an amount above what is owed, and moves nothing', async () => {
    const { payouts, paidMicro } = world({ ten_a: 4n, ten_b: 10n });
    await payouts.payout(input('wire-1', 5n));
    await expect(payouts.payout(input('wire-1', 6n))).rejects.toThrow(
      new LedgerConflictError("reference 'wire-1' was used for a payout of 0.000005"),
    );
    const refused = payouts.payout(input('wire-2', 10n));
    await expect(refused).rejects.toBeInstanceOf(BalanceTooLowError);
    await expect(refused).rejects.toMatchObject({
      message: 'a payout of 0.00001 is more than the 0.000009 the provider is owed',
      availableMicro: 9n,
    });
    expect(paidMicro()).toBe(5n);
    expect(await payouts.payouts(providerId, 10)).toHaveLength(1);
  });

  it('never pays more than is owed when payouts are asked for at once', async () => {
    const { payouts, paidMicro } = world({ ten_a: 6n, ten_b: 6n });
    const answers = await Promise.allSettled(
      ['wire-a', 'wire-b', 'wire-c'].map((reference) => payouts.payout(input(reference, 5n))),
    );
    expect(answers.map((answer) => answer.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(paidMicro()).toBe(10n);
  });

  it('completes a payout some part of which did not move, by a retry or by the alarm', async () => {
    const { payouts, tenant, paidMicro, alarmsAsked } = world({ ten_a: 4n, ten_b: 10n });
    tenant('ten_b').failuresLeft = 1;
    await expect(payouts.payout(input('wire-1', 9n))).rejects.toThrow('did not answer');
    // Recorded before anything moved, so the alarm was asked for; not paid until complete.
    expect(alarmsAsked()).toBe(1);
    expect(paidMicro()).toBe(4n);
    expect(await payouts.payouts(providerId, 10)).toEqual([]);
    expect(await payouts.paidOut(providerId, always)).toBe(0n);

    await payouts.completeUnfinished();
    expect(paidMicro()).toBe(9n);
    expect(await payouts.paidOut(providerId, always)).toBe(9n);
    expect(await payouts.payout(input('wire-1', 9n))).toMatchObject({ duplicate: true });
    expect(paidMicro()).toBe(9n);

    // Left unfinished again, it is completed before the next payout is planned against it.
    tenant('ten_b').failuresLeft = 1;
    await expect(payouts.payout(input('wire-2', 3n))).rejects.toThrow('did not answer');
    await expect(payouts.payout(input('wire-3', 3n))).rejects.toBeInstanceOf(BalanceTooLowError);
    expect(paidMicro()).toBe(12n);
    expect((await payouts.payouts(providerId, 10)).map((payout) => payout.reference)).toEqual([
      'wire-2',
      'wire-1',
    ]);
  });
});
