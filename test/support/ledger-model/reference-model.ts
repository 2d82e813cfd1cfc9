/**
 * The reference model of the ledger's property suite: plain records of what the ledger holds
 * (accounts, coupons, holds, reservations, leases, payouts), the state every sequence starts in,
 * and the small arithmetic of DESIGN.md §4 (a price line, a transport line, a coupon's coverage),
 * written here from the rules alone: nothing of the waterfall, cost or plan code is imported, so
 * the model recomputes every balance on its own.
 */
import type fc from 'fast-check';
import type { PinnedPrice } from '../../../src/billing/cost.ts';
import type {
  CouponState,
  GrantInput,
  Ledger,
  PaidBy,
  UsageOutcome,
} from '../../../src/billing/ledger.ts';
import type { LedgerWorld } from '../ledger-stores.ts';
import { gatewaySlots, modelNames, priceChoices } from './fixed-world.ts';

export type CouponModel = {
  id: string;
  tenantId: string;
  kind: GrantInput['kind'];
  program: string;
  amountMicro: bigint;
  coverageBps: number;
  models: string[] | null;
  regions: string[] | null;
  priority: number;
  startsAtMs: number;
  expiresAtMs: number | null;
  reference: string;
  createdAtMs: number;
  status: CouponState['status'];
  /** Posted balance: granted less what it paid and what left it when it ended. */
  balanceMicro: bigint;
  heldMicro: bigint;
  /** Where its money went: requests it paid, and what left it when it expired or was voided. */
  usedMicro: bigint;
  endedMicro: bigint;
};

export type HoldModel = { couponId: string | null; heldMicro: bigint };

export type Ending = { costMicro: bigint; paidBy: PaidBy[]; outcome: UsageOutcome };

export type ReservationModel = {
  requestId: string;
  tenantId: string;
  model: string;
  region: string;
  price: PinnedPrice;
  admittedAtMs: number;
  instanceId: string;
  promptTokensEstimate: number;
  outputTokensMax: number;
  reservedMicro: bigint;
  /** The transport line reserved with the tokens, when the request was to cross regions. */
  transport: TransportModel | null;
  holds: HoldModel[];
  status: 'reserved' | 'settled' | 'released';
  checkpoint: { inputTokens: number; outputTokens: number; backendId: string } | null;
  ending: Ending | null;
};

export type Model = {
  nowMs: number;
  /** Posted balance of every account, credits less debits. */
  balances: Map<string, bigint>;
  walletHeld: Map<string, bigint>;
  coupons: CouponModel[];
  topUps: { tenantId: string; reference: string; amountMicro: bigint }[];
  grants: GrantInput[];
  reservations: ReservationModel[];
  rejected: { requestId: string; tenantId: string }[];
  currentPrice: Map<string, PinnedPrice>;
  priceVersions: number;
  payoutRates: { providerId: string; version: number; payoutBps: number; effectiveAtMs: number }[];
  payouts: { providerId: string; reference: string; amountMicro: bigint }[];
  adjustments: { tenantId: string; reference: string; amountMicro: bigint; reason: string }[];
  /** The instance id each gateway slot runs now; a crash starts a new one. */
  gateways: string[];
  heartbeats: Map<string, number>;
  nextNumber: number;
  /** Storage ticks charged, by `{tenant}:{tick start}`. */
  storageTicks: Map<string, { paid: boolean; costMicro: bigint; arrearsSinceMs: number | null }>;
  /** Card-hour leases charged (those refused are forgotten, as the gateway drops them). */
  leases: LeaseModel[];
};

export type LeasedBackendModel = {
  backendId: string;
  providerId: string;
  accelerators: number;
  failedAtMs: number | null;
};

export type LeaseModel = {
  id: string;
  tenantId: string;
  model: string;
  region: string;
  startsAtMs: number;
  hours: number;
  cardHourMicro: bigint;
  backends: LeasedBackendModel[];
  costMicro: bigint;
  paidBy: PaidBy[];
  ended: boolean;
};

export type World = { ledger: Ledger; store: LedgerWorld };

/** A command of a sequence: it runs on the model and the store together. */
export type LedgerCommand = fc.AsyncCommand<Model, World>;

export const walletAccount = (tenantId: string) => `wallet:${tenantId}`;

export function credit(model: Model, accountId: string, amountMicro: bigint): void {
  model.balances.set(accountId, (model.balances.get(accountId) ?? 0n) + amountMicro);
}

/** Moves posted money from one account to another. */
export function move(model: Model, fromId: string, toId: string, amountMicro: bigint): void {
  credit(model, fromId, -amountMicro);
  credit(model, toId, amountMicro);
}

export function smaller(left: bigint, right: bigint): bigint {
  return left < right ? left : right;
}

export function atLeastZero(value: bigint): bigint {
  return value < 0n ? 0n : value;
}

function ceilingDivide(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}

/** ceil(tokens x price per million x multiplier / 10,000 / 1,000,000), one line. */
function priceLine(tokens: number, perMillion: bigint, multiplierBps: number): bigint {
  return ceilingDivide(BigInt(tokens) * perMillion * BigInt(multiplierBps), 10_000_000_000n);
}

export function costOf(
  usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number },
  price: PinnedPrice,
): bigint {
  return (
    priceLine(
      usage.inputTokens - usage.cachedInputTokens,
      price.inputPerMillion,
      price.multiplierBps,
    ) +
    priceLine(usage.cachedInputTokens, price.cachedInputPerMillion, price.multiplierBps) +
    priceLine(usage.outputTokens, price.outputPerMillion, price.multiplierBps)
  );
}

export function estimateOf(price: PinnedPrice, promptTokens: number, outputTokens: number): bigint {
  return costOf({ inputTokens: promptTokens, cachedInputTokens: 0, outputTokens }, price);
}

/** Bytes carried between regions, at the region pair's price per GB pinned at admission. */
export type TransportModel = { bytes: number; pricePerGbMicro: bigint };

/** ceil(bytes x price per GB / 1,000,000,000), one line. */
export function transportCostOf(transport: TransportModel): bigint {
  return ceilingDivide(BigInt(transport.bytes) * transport.pricePerGbMicro, 1_000_000_000n);
}

export function coverageOf(coupon: CouponModel, costMicro: bigint): bigint {
  return (costMicro * BigInt(coupon.coverageBps)) / 10_000n;
}

export function couponAvailable(coupon: CouponModel): bigint {
  return coupon.balanceMicro - coupon.heldMicro;
}

export function walletAvailable(model: Model, tenantId: string): bigint {
  return (
    (model.balances.get(walletAccount(tenantId)) ?? 0n) - (model.walletHeld.get(tenantId) ?? 0n)
  );
}

export function couponNamed(model: Model, couponId: string): CouponModel {
  const coupon = model.coupons.find((candidate) => candidate.id === couponId);
  if (!coupon) {
    throw new Error(`the model has no coupon ${couponId}`);
  }
  return coupon;
}

export function openReservations(model: Readonly<Model>): ReservationModel[] {
  return model.reservations.filter((reservation) => reservation.status === 'reserved');
}

export function nextName(model: Model, prefix: string): string {
  model.nextNumber += 1;
  return `${prefix}-${model.nextNumber}`;
}

export function pick<Item>(items: readonly Item[], index: number): Item {
  const item = items[index % items.length];
  if (item === undefined) {
    throw new Error('pick from an empty list');
  }
  return item;
}

export function initialModel(): Model {
  const currentPrice = new Map<string, PinnedPrice>();
  modelNames.forEach((name, index) => {
    currentPrice.set(name, {
      priceId: `price-${name}-0`,
      ...pick(priceChoices, index),
      multiplierBps: 10_000,
    });
  });
  return {
    nowMs: 1_000_000,
    balances: new Map(),
    walletHeld: new Map(),
    coupons: [],
    topUps: [],
    grants: [],
    reservations: [],
    rejected: [],
    currentPrice,
    priceVersions: 0,
    payoutRates: [],
    payouts: [],
    adjustments: [],
    gateways: Array.from({ length: gatewaySlots }, (_, slot) => `gateway-${slot}-0`),
    heartbeats: new Map(),
    nextNumber: 0,
    storageTicks: new Map(),
    leases: [],
  };
}
