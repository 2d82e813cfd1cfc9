/**
 * The operator's commands in the ledger's property suite: new price versions, payout rates,
 * payouts to providers, adjustments of tenants' wallets, and reading the programs' statements.
 */
import { expect } from 'vitest';
import type { PinnedPrice } from '../../../../src/billing/cost.ts';
import { BalanceTooLowError, LedgerConflictError } from '../../../../src/billing/ledger.ts';
import { count } from '../command-tally.ts';
import { expectAgreement } from '../expect-agreement.ts';
import { expectStatements } from '../expect-statements.ts';
import { modelNames, priceChoices, providers, tenantIds } from '../fixed-world.ts';
import {
  type LedgerCommand,
  type Model,
  move,
  nextName,
  pick,
  type World,
  walletAccount,
  walletAvailable,
} from '../reference-model.ts';

export class ChangePrice implements LedgerCommand {
  constructor(
    readonly modelIndex: number,
    readonly choice: number,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const modelName = pick(modelNames, this.modelIndex);
    model.priceVersions += 1;
    const price: PinnedPrice = {
      priceId: `price-${modelName}-${model.priceVersions}`,
      ...pick(priceChoices, this.choice),
      multiplierBps: 10_000,
    };
    await world.store.insertPrice(price, modelName, model.priceVersions);
    model.currentPrice.set(modelName, price);
    await expectAgreement(model, world);
  }

  toString(): string {
    return `changePrice(model ${this.modelIndex}, choice ${this.choice})`;
  }
}

/** The operator publishes a provider's next payout rate, in force now or later (never earlier). */
export class ChangePayoutRate implements LedgerCommand {
  constructor(
    readonly provider: number,
    readonly payoutBps: number,
    readonly effectiveInMs: number,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const providerId = pick(providers, this.provider).id;
    const rate = {
      providerId,
      version: model.payoutRates.filter((each) => each.providerId === providerId).length + 1,
      payoutBps: this.payoutBps,
      effectiveAtMs: model.nowMs + this.effectiveInMs,
    };
    await world.store.insertPayoutRate(rate);
    model.payoutRates.push(rate);
    await expectAgreement(model, world);
  }

  toString(): string {
    return `changePayoutRate(provider ${this.provider}, ${this.payoutBps} bps, in ${this.effectiveInMs} ms)`;
  }
}

/** Pays a provider a share of what it is owed, or more than that (refused), or replays one. */
export class Payout implements LedgerCommand {
  constructor(
    readonly provider: number,
    readonly sharePercent: number,
    readonly replay: 'new' | 'too-much' | 'same' | 'different-amount',
    readonly earlier: number,
  ) {}

  check(model: Readonly<Model>): boolean {
    return this.replay === 'new' || this.replay === 'too-much' || model.payouts.length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    if (this.replay === 'new' || this.replay === 'too-much') {
      await this.payNew(model, world);
    } else {
      const earlier = pick(model.payouts, this.earlier);
      const replayed = {
        providerId: earlier.providerId,
        amountMicro: earlier.amountMicro + (this.replay === 'same' ? 0n : 1n),
        reference: earlier.reference,
        note: null,
        atMs: model.nowMs,
      };
      if (this.replay === 'same') {
        const result = await world.ledger.payout(replayed);
        expect(result.duplicate).toBe(true);
        expect(result.payout).toMatchObject({ amountMicro: earlier.amountMicro, note: 'wire' });
        expect(result.unpaidMicro).toBe(
          model.balances.get(`provider_payable:${earlier.providerId}`) ?? 0n,
        );
      } else {
        await expect(world.ledger.payout(replayed)).rejects.toThrow(LedgerConflictError);
      }
    }
    await expectAgreement(model, world);
  }

  async payNew(model: Model, world: World): Promise<void> {
    // A provider that is owed something, when one is: most payouts then go through.
    const owed = providers.filter(
      ({ id }) => (model.balances.get(`provider_payable:${id}`) ?? 0n) > 0n,
    );
    const providerId = pick(owed.length > 0 ? owed : providers, this.provider).id;
    const payable = `provider_payable:${providerId}`;
    const unpaidMicro = model.balances.get(payable) ?? 0n;
    const share = (unpaidMicro * BigInt(this.sharePercent)) / 100n;
    const amountMicro = this.replay === 'too-much' ? unpaidMicro + 1n : share > 0n ? share : 1n;
    const input = {
      providerId,
      amountMicro,
      reference: nextName(model, 'wire'),
      note: 'wire',
      atMs: model.nowMs,
    };
    if (amountMicro > unpaidMicro) {
      await expect(world.ledger.payout(input)).rejects.toThrow(BalanceTooLowError);
      return;
    }
    const result = await world.ledger.payout(input);
    expect(result.duplicate).toBe(false);
    expect(result.unpaidMicro).toBe(unpaidMicro - amountMicro);
    expect(result.payout).toMatchObject({ amountMicro, reference: input.reference, note: 'wire' });
    move(model, payable, 'cash', amountMicro);
    model.payouts.push({ providerId, reference: input.reference, amountMicro });
    count('paid out');
  }

  toString(): string {
    return `payout(provider ${this.provider}, ${this.sharePercent}%, ${this.replay} #${this.earlier})`;
  }
}

/** Credits or debits a tenant's wallet against revenue, or replays an earlier adjustment. */
export class Adjust implements LedgerCommand {
  constructor(
    readonly tenant: number,
    readonly amountMicro: bigint,
    readonly replay: 'new' | 'same' | 'different-amount',
    readonly earlier: number,
  ) {}

  check(model: Readonly<Model>): boolean {
    return this.replay === 'new' || model.adjustments.length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    if (this.replay === 'new') {
      await this.adjustNew(model, world);
    } else {
      const earlier = pick(model.adjustments, this.earlier);
      const replayed = {
        tenantId: earlier.tenantId,
        // Twice the amount: another amount, never zero.
        amountMicro: earlier.amountMicro * (this.replay === 'same' ? 1n : 2n),
        reason: 'replayed',
        reference: earlier.reference,
        atMs: model.nowMs,
      };
      if (this.replay === 'same') {
        const result = await world.ledger.adjust(replayed);
        expect(result.duplicate).toBe(true);
        expect(result.adjustment).toMatchObject({
          amountMicro: earlier.amountMicro,
          reason: earlier.reason,
        });
        expect(result.walletBalanceMicro).toBe(walletAvailable(model, earlier.tenantId));
      } else {
        await expect(world.ledger.adjust(replayed)).rejects.toThrow(LedgerConflictError);
      }
    }
    await expectAgreement(model, world);
  }

  async adjustNew(model: Model, world: World): Promise<void> {
    const tenantId = pick(tenantIds, this.tenant);
    const input = {
      tenantId,
      amountMicro: this.amountMicro,
      reason: `reason ${model.nextNumber}`,
      reference: nextName(model, 'adjustment'),
      atMs: model.nowMs,
    };
    if (-this.amountMicro > walletAvailable(model, tenantId)) {
      await expect(world.ledger.adjust(input)).rejects.toThrow(BalanceTooLowError);
      return;
    }
    const result = await world.ledger.adjust(input);
    if (this.amountMicro > 0n) {
      move(model, 'revenue', walletAccount(tenantId), this.amountMicro);
    } else {
      move(model, walletAccount(tenantId), 'revenue', -this.amountMicro);
    }
    model.adjustments.push({ ...input });
    count(this.amountMicro > 0n ? 'adjusted up' : 'adjusted down');
    expect(result.duplicate).toBe(false);
    expect(result.walletBalanceMicro).toBe(walletAvailable(model, tenantId));
  }

  toString(): string {
    return `adjust(tenant ${this.tenant}, ${this.amountMicro}, ${this.replay} #${this.earlier})`;
  }
}

export class ReadStatements implements LedgerCommand {
  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    await expectStatements(model, world);
  }

  toString(): string {
    return 'readStatements()';
  }
}
