/**
 * Commands of the ledger's property suite on admitted requests: checkpoints of their usage so
 * far, settlements (perhaps failed over abroad), settlements of requests that already ended, and
 * releases.
 */
import { expect } from 'vitest';
import type { UsageOutcome } from '../../../../src/billing/ledger.ts';
import { expectAgreement } from '../expect-agreement.ts';
import { backends } from '../fixed-world.ts';
import {
  type LedgerCommand,
  type Model,
  openReservations,
  pick,
  type ReservationModel,
  type TransportModel,
  transportCostOf,
  type World,
  walletAvailable,
} from '../reference-model.ts';
import { releaseInModel, settleInModel } from '../settle-in-model.ts';

export class Checkpoint implements LedgerCommand {
  constructor(
    readonly reservation: number,
    readonly inputTokens: number,
    readonly outputTokens: number,
    readonly backend: number,
  ) {}

  /** Mostly a request still streaming; now and then one that ended, which must not change. */
  check(model: Readonly<Model>): boolean {
    return model.reservations.length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const open = openReservations(model);
    const reservation =
      open.length > 0 && this.reservation % 4 !== 0
        ? pick(open, this.reservation)
        : pick(model.reservations, this.reservation);
    const backend = pick(backends, this.backend);
    await world.ledger.checkpoint({
      requestId: reservation.requestId,
      backendId: backend.id,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      atMs: model.nowMs,
    });
    if (reservation.status === 'reserved') {
      reservation.checkpoint = {
        inputTokens: this.inputTokens,
        outputTokens: this.outputTokens,
        backendId: backend.id,
      };
    }
    await expectAgreement(model, world);
  }

  toString(): string {
    return `checkpoint(#${this.reservation}, in ${this.inputTokens}, out ${this.outputTokens}, backend ${this.backend})`;
  }
}

/** The bytes a request reserved without transport carries when it fails over abroad. */
const failoverBytes = 3_000_000;
const failoverPricePerGbMicro = 90_000n;

export class Settle implements LedgerCommand {
  /**
   * `transportShare`: the bytes carried, in percent of those reserved (of `failoverBytes` for a
   * request reserved without transport, served abroad after a failover); null when it was
   * served at home and carried none.
   */
  constructor(
    readonly reservation: number,
    readonly inputShare: number,
    readonly cachedShare: number,
    readonly outputShare: number,
    readonly backend: number,
    readonly outcome: UsageOutcome,
    readonly transportShare: number | null,
  ) {}

  /** The transport line of the settlement, at the price pinned at admission. */
  private carried(reservation: ReservationModel): TransportModel | null {
    if (this.transportShare === null) {
      return null;
    }
    const reserved = reservation.transport ?? {
      bytes: failoverBytes,
      pricePerGbMicro: failoverPricePerGbMicro,
    };
    return {
      bytes: Math.floor((reserved.bytes * this.transportShare) / 100),
      pricePerGbMicro: reserved.pricePerGbMicro,
    };
  }

  check(model: Readonly<Model>): boolean {
    return openReservations(model).length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const reservation = pick(openReservations(model), this.reservation);
    const backend = pick(backends, this.backend);
    // Actual usage below, at or above the estimate: shares are in percent of it.
    const inputTokens = Math.floor((reservation.promptTokensEstimate * this.inputShare) / 100);
    const usage = {
      inputTokens,
      cachedInputTokens: Math.floor((inputTokens * this.cachedShare) / 100),
      outputTokens: Math.floor((reservation.outputTokensMax * this.outputShare) / 100),
    };
    const transport = this.carried(reservation);
    const result = await world.ledger.settle({
      requestId: reservation.requestId,
      usage: { ...usage, reasoningTokens: undefined, source: 'provider' },
      outcome: this.outcome,
      servedBy: { backendId: backend.id, providerId: backend.providerId, region: backend.region },
      // The gateway passes the price pinned at admission, whatever the book says now.
      price: reservation.price,
      atMs: model.nowMs,
      transport: transport ?? undefined,
    });
    const ending = settleInModel(
      model,
      reservation,
      usage,
      backend,
      reservation.price,
      this.outcome,
      transport,
    );
    const { lines, ...charged } = result;
    expect(
      lines.reduce((sum, line) => sum + line.costMicro, 0n),
      'lines sum to the cost',
    ).toBe(ending.costMicro);
    expect(
      lines.find((line) => line.meter === 'transport_gb')?.costMicro,
      'a transport line exactly when bytes crossed regions',
    ).toBe(transport === null ? undefined : transportCostOf(transport));
    expect(charged).toEqual({
      costMicro: ending.costMicro,
      paidBy: ending.paidBy,
      walletAvailableMicro: walletAvailable(model, reservation.tenantId),
      duplicate: false,
    });
    await expectAgreement(model, world);
  }

  toString(): string {
    const transport = this.transportShare === null ? '' : `, transport ${this.transportShare}%`;
    return `settle(#${this.reservation}, input ${this.inputShare}%, cached ${this.cachedShare}%, output ${this.outputShare}%, backend ${this.backend}, ${this.outcome}${transport})`;
  }
}

/** Settles a request that already ended: settled twice, or settled after a release. */
export class SettleAgain implements LedgerCommand {
  constructor(
    readonly reservation: number,
    readonly outputTokens: number,
  ) {}

  check(model: Readonly<Model>): boolean {
    return model.reservations.some((reservation) => reservation.ending !== null);
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const ended = model.reservations.filter((reservation) => reservation.ending !== null);
    const reservation = pick(ended, this.reservation);
    const backend = pick(backends, this.outputTokens);
    const result = await world.ledger.settle({
      requestId: reservation.requestId,
      usage: {
        inputTokens: reservation.promptTokensEstimate,
        cachedInputTokens: 0,
        outputTokens: this.outputTokens,
        reasoningTokens: undefined,
        source: 'provider',
      },
      outcome: 'complete',
      servedBy: { backendId: backend.id, providerId: backend.providerId, region: backend.region },
      price: reservation.price,
      atMs: model.nowMs,
    });
    expect(result).toEqual({
      costMicro: reservation.ending?.costMicro,
      lines: [],
      paidBy: reservation.ending?.paidBy,
      walletAvailableMicro: walletAvailable(model, reservation.tenantId),
      duplicate: true,
    });
    await expectAgreement(model, world);
  }

  toString(): string {
    return `settleAgain(#${this.reservation}, out ${this.outputTokens})`;
  }
}

export class Release implements LedgerCommand {
  constructor(
    readonly reservation: number,
    readonly outcome: UsageOutcome,
  ) {}

  check(model: Readonly<Model>): boolean {
    return model.reservations.length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const reservation = pick(model.reservations, this.reservation);
    await world.ledger.release({
      requestId: reservation.requestId,
      outcome: this.outcome,
      servedBy: undefined,
      atMs: model.nowMs,
    });
    if (reservation.status === 'reserved') {
      releaseInModel(model, reservation, this.outcome);
    }
    await expectAgreement(model, world);
  }

  toString(): string {
    return `release(#${this.reservation}, ${this.outcome})`;
  }
}
