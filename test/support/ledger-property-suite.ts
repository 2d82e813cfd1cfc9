/**
 * Model-based property test of the Ledger on every store, SQLite, PostgreSQL and the Durable
 * Object ledger of Workers (DESIGN.md §4,
 * billing.md §9). Seeded command sequences (requests, top-ups, grants, voids, expiries, sweeps,
 * price and payout-rate versions, payouts, adjustments, storage ticks, card-hour leases and their
 * early ends) run against a fresh store
 * and, beside it, a small reference model written here from the rules alone: it does not import
 * the waterfall, cost or plan code, it recomputes every balance on its own. After every command
 * the two must agree to the micro-unit, and the ledger's own check must find nothing wrong; the
 * programs' statements must say what the model's coupons did. Charges have lines by meter: a
 * request's tokens (compute coupons), the bytes it carried between regions (transport coupons,
 * reserved with the tokens and settled on the bytes actually carried), and storage ticks
 * (storage coupons); the wallet pays what a line's coupons do not. A lease is paid up front by
 * compute coupons and the wallet, or refused with nothing held; ending it early refunds the hours
 * not delivered to its payers pro rata and pays the providers their share of the rest.
 *
 * The suite is written once here; test/ledger-properties.test.ts runs it on SQLite and PostgreSQL,
 * test/workers-ledger-properties.test.ts on Durable Objects in workerd.
 * LEDGER_PROPERTY_RUNS sets the number of sequences on SQLite (default 1,000; `npm run test:deep`
 * asks for 10,000), LEDGER_PROPERTY_RUNS_POSTGRES on PostgreSQL (default 150: each command there
 * is a few network round trips, and the same seed replays the same first sequences),
 * LEDGER_PROPERTY_RUNS_DURABLE on Durable Objects (default 1,000: each call crosses loopback),
 * LEDGER_PROPERTY_SEED another seed to explore with, LEDGER_PROPERTY_STATS=1 prints what the
 * sequences exercised. A failure prints its seed and path: `{ seed, path }` replays it exactly.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PinnedPrice } from '../../src/billing/cost.ts';
import {
  BalanceTooLowError,
  type CouponState,
  type GrantInput,
  type Ledger,
  LedgerConflictError,
  type PaidBy,
  type ReserveResult,
  type UsageOutcome,
  type UsageRecord,
} from '../../src/billing/ledger.ts';
import { parseMoney } from '../../src/billing/money.ts';
import { toStoredPaidBy } from '../../src/billing/paid-by.ts';
import { recordLease } from './lease-records.ts';
import type { AccountRow, LedgerStore, LedgerWorld } from './ledger-stores.ts';

const sequenceCounts: Record<LedgerStore['name'], number> = {
  SQLite: Number(process.env.LEDGER_PROPERTY_RUNS ?? '1000'),
  PostgreSQL: Number(process.env.LEDGER_PROPERTY_RUNS_POSTGRES ?? '150'),
  'Durable Object': Number(process.env.LEDGER_PROPERTY_RUNS_DURABLE ?? '1000'),
};
/**
 * The time budget of one sequence: PostgreSQL and the Durable Objects answer over the network
 * (loopback to workerd), on a shared machine.
 */
const sequenceMsMax: Record<LedgerStore['name'], number> = {
  SQLite: 60,
  PostgreSQL: 400,
  'Durable Object': 1_500,
};
const propertySeed = Number(process.env.LEDGER_PROPERTY_SEED ?? '20260610');

// ---------------------------------------------------------------------------------------------
// The fixed world every sequence starts from.

const tenantIds = ['tenant-1', 'tenant-2'] as const;
const modelNames = ['model-a', 'model-b'] as const;
const regionNames = ['east', 'west', 'north'] as const;
const programs = ['gov-compute', 'platform-promo'] as const;
const providers = [
  { id: 'provider-1', payoutBps: 7_000 },
  { id: 'provider-2', payoutBps: 8_333 },
] as const;
const backends = [
  { id: 'backend-east', providerId: 'provider-1', region: 'east' },
  { id: 'backend-west', providerId: 'provider-2', region: 'west' },
  { id: 'backend-north', providerId: 'provider-1', region: 'north' },
] as const;
type Backend = (typeof backends)[number];
/** Reservations older than this are swept even when their gateway is alive. */
const longestRequestMs = 600_000;
const gatewaySlots = 2;
const everything = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };

type PriceTerms = Omit<PinnedPrice, 'priceId' | 'multiplierBps'>;
const priceChoices: readonly PriceTerms[] = [
  { inputPerMillion: 1_000_000n, cachedInputPerMillion: 250_000n, outputPerMillion: 2_000_000n },
  { inputPerMillion: 1_234_567n, cachedInputPerMillion: 0n, outputPerMillion: 7_777_777n },
  { inputPerMillion: 3_000_000n, cachedInputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n },
  { inputPerMillion: 0n, cachedInputPerMillion: 0n, outputPerMillion: 4_500_000n },
  { inputPerMillion: 500_000n, cachedInputPerMillion: 100_000n, outputPerMillion: 9_000_001n },
];

// ---------------------------------------------------------------------------------------------
// The reference model: plain records and the rules of DESIGN.md §4, nothing imported.

type CouponModel = {
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

type HoldModel = { couponId: string | null; heldMicro: bigint };

type Ending = { costMicro: bigint; paidBy: PaidBy[]; outcome: UsageOutcome };

type ReservationModel = {
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

type Model = {
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

type LeasedBackendModel = {
  backendId: string;
  providerId: string;
  accelerators: number;
  failedAtMs: number | null;
};

type LeaseModel = {
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

type World = { ledger: Ledger; store: LedgerWorld };

const walletAccount = (tenantId: string) => `wallet:${tenantId}`;

function credit(model: Model, accountId: string, amountMicro: bigint): void {
  model.balances.set(accountId, (model.balances.get(accountId) ?? 0n) + amountMicro);
}

/** Moves posted money from one account to another. */
function move(model: Model, fromId: string, toId: string, amountMicro: bigint): void {
  credit(model, fromId, -amountMicro);
  credit(model, toId, amountMicro);
}

function smaller(left: bigint, right: bigint): bigint {
  return left < right ? left : right;
}

function atLeastZero(value: bigint): bigint {
  return value < 0n ? 0n : value;
}

function ceilingDivide(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}

/** ceil(tokens x price per million x multiplier / 10,000 / 1,000,000), one line. */
function priceLine(tokens: number, perMillion: bigint, multiplierBps: number): bigint {
  return ceilingDivide(BigInt(tokens) * perMillion * BigInt(multiplierBps), 10_000_000_000n);
}

function costOf(
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

function estimateOf(price: PinnedPrice, promptTokens: number, outputTokens: number): bigint {
  return costOf({ inputTokens: promptTokens, cachedInputTokens: 0, outputTokens }, price);
}

/** Bytes carried between regions, at the region pair's price per GB pinned at admission. */
type TransportModel = { bytes: number; pricePerGbMicro: bigint };

/** ceil(bytes x price per GB / 1,000,000,000), one line. */
function transportCostOf(transport: TransportModel): bigint {
  return ceilingDivide(BigInt(transport.bytes) * transport.pricePerGbMicro, 1_000_000_000n);
}

function coverageOf(coupon: CouponModel, costMicro: bigint): bigint {
  return (costMicro * BigInt(coupon.coverageBps)) / 10_000n;
}

function couponAvailable(coupon: CouponModel): bigint {
  return coupon.balanceMicro - coupon.heldMicro;
}

function walletAvailable(model: Model, tenantId: string): bigint {
  return (
    (model.balances.get(walletAccount(tenantId)) ?? 0n) - (model.walletHeld.get(tenantId) ?? 0n)
  );
}

function couponNamed(model: Model, couponId: string): CouponModel {
  const coupon = model.coupons.find((candidate) => candidate.id === couponId);
  if (!coupon) {
    throw new Error(`the model has no coupon ${couponId}`);
  }
  return coupon;
}

/** A line of a charge: compute (tokens), transport or storage, each paid by its own coupons. */
type ChargedLine = {
  kind: CouponModel['kind'];
  model: string;
  region: string;
  admittedAtMs: number;
};

/** Kind, scope and validity at admission; status is judged by the caller. */
function coversLine(coupon: CouponModel, line: ChargedLine): boolean {
  return coupon.kind === line.kind && coversScope(coupon, line);
}

/** Scope and validity at admission, whatever the kind. */
function coversScope(coupon: CouponModel, line: ChargedLine): boolean {
  return (
    coupon.startsAtMs <= line.admittedAtMs &&
    (coupon.expiresAtMs === null || line.admittedAtMs < coupon.expiresAtMs) &&
    (coupon.models === null || coupon.models.includes(line.model)) &&
    (coupon.regions === null || coupon.regions.includes(line.region))
  );
}

/**
 * The order coupons are spent in: priority, then narrower scope (more restricted dimensions,
 * then fewer models, then fewer regions), then the earlier expiry (never last), start, creation
 * and id.
 */
function spendingOrder(coupons: CouponModel[]): CouponModel[] {
  const keyOf = (coupon: CouponModel): (number | string)[] => [
    coupon.priority,
    -((coupon.models ? 1 : 0) + (coupon.regions ? 1 : 0)),
    coupon.models?.length ?? Number.POSITIVE_INFINITY,
    coupon.regions?.length ?? Number.POSITIVE_INFINITY,
    coupon.expiresAtMs ?? Number.POSITIVE_INFINITY,
    coupon.startsAtMs,
    coupon.createdAtMs,
    coupon.id,
  ];
  return [...coupons].sort((left, right) => {
    const leftKey = keyOf(left);
    const rightKey = keyOf(right);
    for (let index = 0; index < leftKey.length; index += 1) {
      const [leftPart, rightPart] = [leftKey[index] ?? 0, rightKey[index] ?? 0];
      if (leftPart !== rightPart) {
        return leftPart < rightPart ? -1 : 1;
      }
    }
    return 0;
  });
}

type HoldPlan = {
  couponHolds: HoldModel[];
  couponsMicro: bigint;
  walletMicro: bigint;
  shortfallMicro: bigint;
};

/**
 * Who would pay a line now: active coupons of its kind first, each up to its coverage, then
 * `walletMicro` of the wallet (all of it available, unless other lines of the charge took some).
 */
function holdPlan(
  model: Model,
  tenantId: string,
  line: ChargedLine,
  costMicro: bigint,
  walletMicro = atLeastZero(walletAvailable(model, tenantId)),
): HoldPlan {
  let remainingMicro = costMicro;
  const couponHolds: HoldModel[] = [];
  const spendable = model.coupons.filter(
    (coupon) =>
      coupon.tenantId === tenantId && coupon.status === 'active' && coversLine(coupon, line),
  );
  for (const coupon of spendingOrder(spendable)) {
    const take = atLeastZero(
      smaller(smaller(couponAvailable(coupon), coverageOf(coupon, costMicro)), remainingMicro),
    );
    if (take > 0n) {
      couponHolds.push({ couponId: coupon.id, heldMicro: take });
      remainingMicro -= take;
    }
  }
  const wallet = smaller(walletMicro, remainingMicro);
  return {
    couponHolds,
    couponsMicro: costMicro - remainingMicro,
    walletMicro: wallet,
    shortfallMicro: remainingMicro - wallet,
  };
}

/**
 * Every output allowance from 0 to `ceiling` the tenant can pay in full, for checking the clamp.
 * Coupons together pay at most the sum of what each may (its balance, its coverage), so a cost
 * is affordable when that sum and `wallet` (what other lines of the charge left of it) reach it;
 * no order is needed for the answer.
 */
function affordableAllowances(
  model: Model,
  tenantId: string,
  line: ChargedLine,
  price: PinnedPrice,
  promptTokens: number,
  ceiling: number,
  wallet: bigint,
): boolean[] {
  const spendable = model.coupons.filter(
    (coupon) =>
      coupon.tenantId === tenantId && coupon.status === 'active' && coversLine(coupon, line),
  );
  const answers: boolean[] = [];
  for (let outputTokens = 0; outputTokens <= ceiling; outputTokens += 1) {
    const costMicro = estimateOf(price, promptTokens, outputTokens);
    const couponsMayPay = spendable.reduce(
      (sum, coupon) =>
        sum + atLeastZero(smaller(couponAvailable(coupon), coverageOf(coupon, costMicro))),
      0n,
    );
    answers.push(costMicro <= wallet + couponsMayPay);
  }
  return answers;
}

/** Payers in the order they first paid, one entry each. */
class Payments {
  readonly list: PaidBy[] = [];

  add(
    source: PaidBy['source'],
    id: string | null,
    amountMicro: bigint,
    couponKind?: CouponModel['kind'],
  ): void {
    if (amountMicro <= 0n) {
      return;
    }
    const existing = this.list.find((paid) => paid.source === source && paid.id === id);
    if (existing) {
      existing.amountMicro += amountMicro;
    } else {
      const kind = source === 'coupon' ? (couponKind ?? 'compute') : source;
      this.list.push({ source, id, kind, amountMicro });
    }
  }
}

function freeHold(model: Model, reservation: ReservationModel, hold: HoldModel): void {
  if (hold.couponId === null) {
    model.walletHeld.set(
      reservation.tenantId,
      (model.walletHeld.get(reservation.tenantId) ?? 0n) - hold.heldMicro,
    );
  } else {
    couponNamed(model, hold.couponId).heldMicro -= hold.heldMicro;
  }
}

/** A coupon that ended while it held money passes what its holds freed on, as it would have. */
function passOnFreedMoney(model: Model, reservation: ReservationModel): void {
  for (const couponId of new Set(reservation.holds.map((hold) => hold.couponId))) {
    if (couponId === null) {
      continue;
    }
    const coupon = couponNamed(model, couponId);
    const freed = couponAvailable(coupon);
    if (coupon.status !== 'active' && freed > 0n) {
      coupon.balanceMicro -= freed;
      coupon.endedMicro += freed;
      credit(
        model,
        coupon.status === 'voided' ? `subsidy_receivable:${coupon.program}` : 'breakage',
        freed,
      );
    }
  }
}

type LineCharge = { line: ChargedLine; costMicro: bigint };

/**
 * Each line in turn takes from the request's holds, in the order they were taken, what the lines
 * before it left: a coupon's hold pays only a line of its kind, within its coverage of that line
 * (an ended coupon still honours its hold), the wallet's hold any line. What each line could not
 * take is returned, line by line.
 */
function takeFromHolds(
  model: Model,
  holds: readonly HoldModel[],
  charges: readonly LineCharge[],
  takenMicro: bigint[],
  paidByCoupon: Map<string, bigint>,
): bigint[] {
  return charges.map(({ line, costMicro }) => {
    let remainingMicro = costMicro;
    holds.forEach((hold, index) => {
      let room = hold.heldMicro - (takenMicro[index] ?? 0n);
      const coupon = hold.couponId === null ? undefined : couponNamed(model, hold.couponId);
      if (coupon) {
        room = coversLine(coupon, line)
          ? smaller(room, coverageOf(coupon, costMicro) - (paidByCoupon.get(coupon.id) ?? 0n))
          : 0n;
      }
      const paid = atLeastZero(smaller(room, remainingMicro));
      remainingMicro -= paid;
      takenMicro[index] = (takenMicro[index] ?? 0n) + paid;
      if (coupon) {
        paidByCoupon.set(coupon.id, (paidByCoupon.get(coupon.id) ?? 0n) + paid);
      }
    });
    return remainingMicro;
  });
}

/** What a line's holds left unpaid: active coupons of its kind again, then the wallet. */
function payAfresh(
  model: Model,
  tenantId: string,
  { line, costMicro }: LineCharge,
  unpaidMicro: bigint,
  paidByCoupon: Map<string, bigint>,
  payments: Payments,
): bigint {
  let remainingMicro = unpaidMicro;
  const spendable = model.coupons.filter(
    (coupon) =>
      coupon.tenantId === tenantId && coupon.status === 'active' && coversLine(coupon, line),
  );
  for (const coupon of spendingOrder(spendable)) {
    const take = atLeastZero(
      smaller(
        smaller(
          couponAvailable(coupon),
          coverageOf(coupon, costMicro) - (paidByCoupon.get(coupon.id) ?? 0n),
        ),
        remainingMicro,
      ),
    );
    coupon.balanceMicro -= take;
    coupon.usedMicro += take;
    remainingMicro -= take;
    payments.add('coupon', coupon.id, take, coupon.kind);
  }
  const wallet = smaller(atLeastZero(walletAvailable(model, tenantId)), remainingMicro);
  credit(model, walletAccount(tenantId), -wallet);
  payments.add('wallet', null, wallet);
  return remainingMicro - wallet;
}

function settleInModel(
  model: Model,
  reservation: ReservationModel,
  usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number },
  servedBy: Backend,
  price: PinnedPrice,
  outcome: UsageOutcome,
  transport: TransportModel | null = null,
): Ending {
  const scope = {
    model: reservation.model,
    region: servedBy.region,
    admittedAtMs: reservation.admittedAtMs,
  };
  // The compute line (every token meter) first, then the transport line when bytes crossed.
  const charges: LineCharge[] = [
    { line: { kind: 'compute', ...scope }, costMicro: costOf(usage, price) },
    ...(transport === null
      ? []
      : [
          { line: { kind: 'transport' as const, ...scope }, costMicro: transportCostOf(transport) },
        ]),
  ];
  const costMicro = charges.reduce((sum, charge) => sum + charge.costMicro, 0n);
  const payments = new Payments();
  const paidByCoupon = new Map<string, bigint>();
  // 1. The holds pay what they may of each line; each posts what it paid and frees the rest.
  const takenMicro = reservation.holds.map(() => 0n);
  const unpaid = takeFromHolds(model, reservation.holds, charges, takenMicro, paidByCoupon);
  reservation.holds.forEach((hold, index) => {
    const paid = takenMicro[index] ?? 0n;
    freeHold(model, reservation, hold);
    if (hold.couponId === null) {
      credit(model, walletAccount(reservation.tenantId), -paid);
      payments.add('wallet', null, paid);
    } else {
      const coupon = couponNamed(model, hold.couponId);
      coupon.balanceMicro -= paid;
      coupon.usedMicro += paid;
      payments.add('coupon', coupon.id, paid, coupon.kind);
    }
  });
  // 2. What the holds could not pay, line by line: active coupons of its kind, then the wallet.
  const writtenOffMicro = charges.reduce(
    (sum, charge, index) =>
      sum +
      payAfresh(model, reservation.tenantId, charge, unpaid[index] ?? 0n, paidByCoupon, payments),
    0n,
  );
  // 3. The rest is written off; the provider gets its share of what was collected (never of the
  // write-off), the platform the rest.
  credit(model, 'write_off', -writtenOffMicro);
  payments.add('write_off', null, writtenOffMicro);
  const payoutBps = payoutBpsInModel(model, servedBy.providerId, reservation.admittedAtMs);
  const providerShare = ((costMicro - writtenOffMicro) * BigInt(payoutBps)) / 10_000n;
  credit(model, `provider_payable:${servedBy.providerId}`, providerShare);
  credit(model, 'revenue', costMicro - providerShare);
  passOnFreedMoney(model, reservation);
  reservation.status = 'settled';
  reservation.ending = { costMicro, paidBy: payments.list, outcome };
  return reservation.ending;
}

/** The newest rate version effective at admission (the later one of a tie), else the first rate. */
function payoutBpsInModel(model: Model, providerId: string, admittedAtMs: number): number {
  const effective = model.payoutRates
    .filter((rate) => rate.providerId === providerId && rate.effectiveAtMs <= admittedAtMs)
    .sort(
      (left, right) => left.effectiveAtMs - right.effectiveAtMs || left.version - right.version,
    );
  return (
    effective.at(-1)?.payoutBps ??
    providers.find((provider) => provider.id === providerId)?.payoutBps ??
    0
  );
}

function releaseInModel(model: Model, reservation: ReservationModel, outcome: UsageOutcome): void {
  for (const hold of reservation.holds) {
    freeHold(model, reservation, hold);
  }
  passOnFreedMoney(model, reservation);
  reservation.status = 'released';
  reservation.ending = { costMicro: 0n, paidBy: [], outcome };
}

function endCouponInModel(model: Model, coupon: CouponModel, status: 'voided' | 'expired'): void {
  coupon.status = status;
  const available = couponAvailable(coupon);
  if (available > 0n) {
    coupon.balanceMicro -= available;
    coupon.endedMicro += available;
    credit(
      model,
      status === 'voided' ? `subsidy_receivable:${coupon.program}` : 'breakage',
      available,
    );
  }
}

function openReservations(model: Readonly<Model>): ReservationModel[] {
  return model.reservations.filter((reservation) => reservation.status === 'reserved');
}

function nextName(model: Model, prefix: string): string {
  model.nextNumber += 1;
  return `${prefix}-${model.nextNumber}`;
}

function pick<Item>(items: readonly Item[], index: number): Item {
  const item = items[index % items.length];
  if (item === undefined) {
    throw new Error('pick from an empty list');
  }
  return item;
}

// ---------------------------------------------------------------------------------------------
// The store: a fresh one per sequence (in-memory SQLite, or an emptied PostgreSQL database), with
// the rows the ledger reads.

async function openWorld(model: Model, store: LedgerStore): Promise<World> {
  const world = await store.openWorld(
    {
      tenants: tenantIds.map((id) => ({ id, clampAllowed: true })),
      providers,
      backends: backends.map((backend) => ({ ...backend, models: modelNames })),
      prices: [...model.currentPrice].map(([name, price]) => ({ price, model: name, version: 0 })),
    },
    { ledgerCount: 1, onFile: false },
  );
  const [ledger] = world.ledgers;
  if (!ledger) {
    throw new Error('a world has a ledger');
  }
  return { ledger, store: world };
}

function initialModel(): Model {
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

// ---------------------------------------------------------------------------------------------
// Agreement: after every command the store must equal the model and pass its own check.

function pendingDebitOf(model: Model, accountId: string): bigint {
  if (accountId.startsWith('wallet:')) {
    return model.walletHeld.get(accountId.slice('wallet:'.length)) ?? 0n;
  }
  if (accountId.startsWith('coupon:')) {
    return couponNamed(model, accountId.slice('coupon:'.length)).heldMicro;
  }
  return 0n;
}

function totalHeld(model: Model): bigint {
  return openReservations(model)
    .flatMap((reservation) => reservation.holds)
    .reduce((sum, hold) => sum + hold.heldMicro, 0n);
}

function couponView(coupon: CouponModel | CouponState) {
  const remainingMicro =
    'remainingMicro' in coupon ? coupon.remainingMicro : couponAvailable(coupon);
  return {
    id: coupon.id,
    kind: coupon.kind,
    program: coupon.program,
    amountMicro: coupon.amountMicro,
    remainingMicro,
    heldMicro: coupon.heldMicro,
    coverageBps: coupon.coverageBps,
    models: coupon.models,
    regions: coupon.regions,
    priority: coupon.priority,
    startsAtMs: coupon.startsAtMs,
    expiresAtMs: coupon.expiresAtMs,
    status: coupon.status,
    reference: coupon.reference,
  };
}

/** Oracle-free invariants of one settled request: its payers add up and each coupon may pay. */
function paymentViolations(record: UsageRecord, model: Model): string[] {
  const violations: string[] = [];
  const paid = record.paidBy.reduce((sum, payer) => sum + payer.amountMicro, 0n);
  if (paid !== record.costMicro) {
    violations.push(
      `${record.requestId}: payers add up to ${paid}, the cost is ${record.costMicro}`,
    );
  }
  const linesMicro = (['compute', 'transport', 'storage'] as const).reduce(
    (sum, kind) => sum + recordedCostOfKind(record, kind),
    0n,
  );
  if (record.lines.length > 0 && linesMicro !== record.costMicro) {
    violations.push(
      `${record.requestId}: lines add up to ${linesMicro}, the cost is ${record.costMicro}`,
    );
  }
  for (const payer of record.paidBy) {
    if (payer.amountMicro <= 0n) {
      violations.push(`${record.requestId}: ${payer.source} paid ${payer.amountMicro}`);
    }
    if (payer.source !== 'coupon') {
      continue;
    }
    const coupon = couponNamed(model, payer.id ?? '');
    const line: ChargedLine = {
      kind: coupon.kind,
      model: record.model,
      region: record.region ?? '',
      admittedAtMs: record.createdAtMs,
    };
    if (!coversLine(coupon, line)) {
      violations.push(
        `${record.requestId}: coupon ${coupon.id} paid outside its scope or validity`,
      );
    }
    if (payer.amountMicro > coverageOf(coupon, recordedCostOfKind(record, coupon.kind))) {
      violations.push(`${record.requestId}: coupon ${coupon.id} paid beyond its coverage`);
    }
  }
  return violations;
}

/** The coupon kind paying each meter's lines, as API.md's meters table says. */
function kindPaying(meter: string): CouponModel['kind'] {
  return meter === 'transport_gb'
    ? 'transport'
    : meter === 'storage_gb_hour'
      ? 'storage'
      : 'compute';
}

/** What a usage record's lines of one coupon kind cost together. */
function recordedCostOfKind(record: UsageRecord, kind: CouponModel['kind']): bigint {
  return record.lines
    .filter((line) => kindPaying(line.meter) === kind)
    .reduce((sum, line) => {
      const parsed = parseMoney(line.cost);
      if (!parsed.ok) {
        throw new Error(`${record.requestId}: a line costs ${line.cost}`);
      }
      return sum + parsed.micro;
    }, 0n);
}

function expectedEndings(model: Model, tenantId: string) {
  const endings: (Ending & { requestId: string })[] = [];
  for (const reservation of model.reservations) {
    if (reservation.tenantId === tenantId && reservation.ending) {
      endings.push({ requestId: reservation.requestId, ...reservation.ending });
    }
  }
  for (const rejected of model.rejected) {
    if (rejected.tenantId === tenantId) {
      endings.push({
        requestId: rejected.requestId,
        costMicro: 0n,
        paidBy: [],
        outcome: 'rejected',
      });
    }
  }
  return endings.sort((left, right) => left.requestId.localeCompare(right.requestId));
}

async function expectAgreement(model: Model, world: World): Promise<void> {
  const checked = await world.ledger.check();
  expect(checked.problems).toEqual([]);
  expect(checked.ok).toBe(true);

  const rows: AccountRow[] = await world.store.accountRows();
  const accountIds = [...new Set([...rows.map((row) => row.id), ...model.balances.keys()])].sort();
  const expectedAccount = (id: string) => ({
    id,
    balance: id.startsWith('coupon:')
      ? couponNamed(model, id.slice('coupon:'.length)).balanceMicro
      : (model.balances.get(id) ?? 0n),
    debitsPending: pendingDebitOf(model, id),
    creditsPending: id === 'holds' ? totalHeld(model) : 0n,
  });
  const actualAccount = (id: string) => {
    const row = rows.find((candidate) => candidate.id === id);
    return {
      id,
      balance: row?.balance ?? 0n,
      debitsPending: row?.debitsPending ?? 0n,
      creditsPending: row?.creditsPending ?? 0n,
    };
  };
  expect(accountIds.map(actualAccount)).toEqual(accountIds.map(expectedAccount));

  for (const tenantId of tenantIds) {
    const money = await world.ledger.tenantMoney(tenantId, model.nowMs);
    const tenantCoupons = model.coupons.filter((coupon) => coupon.tenantId === tenantId);
    const overdrawn = [
      ...(money.walletBalanceMicro < 0n ? [`wallet ${money.walletBalanceMicro}`] : []),
      ...money.coupons
        .filter((coupon) => coupon.remainingMicro < 0n)
        .map((coupon) => `coupon ${coupon.id} ${coupon.remainingMicro}`),
    ];
    expect(overdrawn, `${tenantId} is never overdrawn`).toEqual([]);
    expect({
      walletBalanceMicro: money.walletBalanceMicro,
      holdsMicro: money.holdsMicro,
      coupons: money.coupons.map(couponView),
    }).toEqual({
      walletBalanceMicro: walletAvailable(model, tenantId),
      holdsMicro:
        (model.walletHeld.get(tenantId) ?? 0n) +
        tenantCoupons.reduce((sum, coupon) => sum + coupon.heldMicro, 0n),
      coupons: tenantCoupons.map(couponView),
    });

    const records = await world.ledger.usage(tenantId, everything);
    const endings = records
      .map((record) => ({
        requestId: record.requestId,
        costMicro: record.costMicro,
        paidBy: record.paidBy,
        outcome: record.outcome,
      }))
      .sort((left, right) => left.requestId.localeCompare(right.requestId));
    expect(endings).toEqual(expectedEndings(model, tenantId));
    expect(records.flatMap((record) => paymentViolations(record, model))).toEqual([]);
  }

  if (openReservations(model).length === 0) {
    const held = rows.filter((row) => row.debitsPending !== 0n || row.creditsPending !== 0n);
    expect(held, 'no hold is left once every request ended').toEqual([]);
  }
  await expectOperatorMovements(model, world);
}

/** Payouts and adjustments as the model made them, newest first; what each provider is owed. */
async function expectOperatorMovements(model: Model, world: World): Promise<void> {
  for (const { id } of providers) {
    const paid = model.payouts.filter((payout) => payout.providerId === id);
    const paidMicro = paid.reduce((sum, payout) => sum + payout.amountMicro, 0n);
    const unpaidMicro = model.balances.get(`provider_payable:${id}`) ?? 0n;
    expect(await world.ledger.providerBalance(id)).toEqual({
      earnedMicro: unpaidMicro + paidMicro,
      paidMicro,
      unpaidMicro,
    });
    expect(await world.ledger.paidOut(id, everything)).toBe(paidMicro);
    const listed = await world.ledger.payouts(id, 1_000);
    expect(listed.map(({ reference, amountMicro }) => ({ reference, amountMicro }))).toEqual(
      paid.map(({ reference, amountMicro }) => ({ reference, amountMicro })).reverse(),
    );
  }
  for (const tenantId of tenantIds) {
    const listed = await world.ledger.adjustments(tenantId, 1_000);
    expect(
      listed.map(({ reference, amountMicro, reason }) => ({ reference, amountMicro, reason })),
    ).toEqual(
      model.adjustments
        .filter((adjustment) => adjustment.tenantId === tenantId)
        .map(({ reference, amountMicro, reason }) => ({ reference, amountMicro, reason }))
        .reverse(),
    );
  }
}

/**
 * What the model's requests and leases paid with coupons of `program` (of `tenant` and `kind`
 * when given): how many, and their whole cost.
 */
function copaidInModel(
  model: Model,
  program: string,
  tenant?: { tenantId: string; kind: GrantInput['kind'] },
) {
  const paidByProgram = (paidBy: readonly PaidBy[]) =>
    paidBy.some((payer) => {
      if (payer.source !== 'coupon' || payer.id === null) {
        return false;
      }
      const coupon = couponNamed(model, payer.id);
      return (
        coupon.program === program &&
        (tenant === undefined ||
          (coupon.tenantId === tenant.tenantId && coupon.kind === tenant.kind))
      );
    });
  const costs = [
    ...model.reservations.flatMap((reservation) =>
      reservation.ending && paidByProgram(reservation.ending.paidBy)
        ? [reservation.ending.costMicro]
        : [],
    ),
    ...model.leases.flatMap((lease) => (paidByProgram(lease.paidBy) ? [lease.costMicro] : [])),
  ];
  return {
    requests: costs.length,
    copaidMicro: costs.reduce((sum, costMicro) => sum + costMicro, 0n),
  };
}

/**
 * Each program's statement of all time, line by line from the model's coupons and requests
 * (granted, what they paid, what left them when they ended, what remains), reconciled; and the
 * list of programs.
 */
async function expectStatements(model: Model, world: World): Promise<void> {
  const kinds: readonly GrantInput['kind'][] = ['compute', 'storage', 'transport'];
  const listing = [];
  for (const program of programs) {
    const summary = await world.ledger.programSummary(program, everything, undefined);
    const granted = model.coupons.filter((coupon) => coupon.program === program);
    if (granted.length === 0) {
      expect(summary).toBeUndefined();
      continue;
    }
    const sumOf = (coupons: CouponModel[], pick: (coupon: CouponModel) => bigint) =>
      coupons.reduce((sum, coupon) => sum + pick(coupon), 0n);
    const lines = [...tenantIds].sort().flatMap((tenantId) =>
      kinds.flatMap((kind) => {
        const coupons = granted.filter(
          (coupon) => coupon.tenantId === tenantId && coupon.kind === kind,
        );
        if (coupons.length === 0) {
          return [];
        }
        const ended = (status: CouponModel['status']) =>
          sumOf(
            coupons.filter((coupon) => coupon.status === status),
            (coupon) => coupon.endedMicro,
          );
        return [
          {
            tenantId,
            kind,
            coupons: coupons.length,
            openingMicro: 0n,
            grantedMicro: sumOf(coupons, (coupon) => coupon.amountMicro),
            usedMicro: sumOf(coupons, (coupon) => coupon.usedMicro),
            expiredMicro: ended('expired'),
            voidedMicro: ended('voided'),
            remainingMicro: sumOf(coupons, (coupon) => coupon.balanceMicro),
            ...copaidInModel(model, program, { tenantId, kind }),
          },
        ];
      }),
    );
    expect(summary?.reconciliation).toEqual({ ok: true, problems: [] });
    expect(summary?.lines).toEqual(lines);
    expect(summary?.grandTotal).toMatchObject({
      tenants: new Set(granted.map((coupon) => coupon.tenantId)).size,
      grantedMicro: sumOf(granted, (coupon) => coupon.amountMicro),
      remainingMicro: sumOf(granted, (coupon) => coupon.balanceMicro),
      ...copaidInModel(model, program),
    });
    listing.push({
      program,
      coupons: granted.length,
      tenants: new Set(granted.map((coupon) => coupon.tenantId)).size,
      grantedMicro: sumOf(granted, (coupon) => coupon.amountMicro),
    });
  }
  expect(
    (await world.ledger.programs()).map(({ program, coupons, tenants, grantedMicro }) => ({
      program,
      coupons,
      tenants,
      grantedMicro,
    })),
  ).toEqual(listing);
}

// ---------------------------------------------------------------------------------------------
// Commands. Each one advances the clock by at least 1 ms, so admission times never tie.

type LedgerCommand = fc.AsyncCommand<Model, World>;

class TopUp implements LedgerCommand {
  constructor(
    readonly tenant: number,
    readonly amountMicro: bigint,
    readonly replay: 'new' | 'same' | 'different-amount',
    readonly earlier: number,
  ) {}

  check(model: Readonly<Model>): boolean {
    return this.replay === 'new' || model.topUps.length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    if (this.replay === 'new') {
      const tenantId = pick(tenantIds, this.tenant);
      const reference = nextName(model, 'payment');
      const result = await world.ledger.topUp({
        tenantId,
        amountMicro: this.amountMicro,
        reference,
        atMs: model.nowMs,
      });
      model.topUps.push({ tenantId, reference, amountMicro: this.amountMicro });
      move(model, 'cash', walletAccount(tenantId), this.amountMicro);
      expect(result.duplicate).toBe(false);
      expect(result.walletBalanceMicro).toBe(walletAvailable(model, tenantId));
    } else {
      const earlier = pick(model.topUps, this.earlier);
      const replayed = {
        tenantId: earlier.tenantId,
        reference: earlier.reference,
        amountMicro: earlier.amountMicro + (this.replay === 'same' ? 0n : this.amountMicro),
        atMs: model.nowMs,
      };
      if (this.replay === 'same') {
        const result = await world.ledger.topUp(replayed);
        expect(result.duplicate).toBe(true);
        expect(result.amountMicro).toBe(earlier.amountMicro);
        expect(result.walletBalanceMicro).toBe(walletAvailable(model, earlier.tenantId));
      } else {
        await expect(world.ledger.topUp(replayed)).rejects.toThrow(LedgerConflictError);
      }
    }
    await expectAgreement(model, world);
  }

  toString(): string {
    return `topUp(tenant ${this.tenant}, ${this.amountMicro}, ${this.replay} #${this.earlier})`;
  }
}

type GrantTerms = Pick<
  GrantInput,
  'kind' | 'program' | 'amountMicro' | 'coverageBps' | 'models' | 'regions' | 'priority'
> & { startsInMs: number; expiresInMs: number | null };

class Grant implements LedgerCommand {
  constructor(
    readonly tenant: number,
    readonly terms: GrantTerms,
    readonly replay: 'new' | 'same' | 'other-start' | 'different-terms',
    readonly earlier: number,
    readonly changedTerm: number,
  ) {}

  check(model: Readonly<Model>): boolean {
    return this.replay === 'new' || model.grants.length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    if (this.replay === 'new') {
      const { startsInMs, expiresInMs, ...terms } = this.terms;
      const input: GrantInput = {
        ...terms,
        id: nextName(model, 'coupon'),
        tenantId: pick(tenantIds, this.tenant),
        startsAtMs: model.nowMs + startsInMs,
        expiresAtMs: expiresInMs === null ? null : model.nowMs + expiresInMs,
        reference: nextName(model, 'grant'),
        atMs: model.nowMs,
      };
      const result = await world.ledger.grantCoupon(input);
      model.grants.push(input);
      const coupon: CouponModel = {
        ...input,
        createdAtMs: model.nowMs,
        status: 'active',
        balanceMicro: input.amountMicro,
        heldMicro: 0n,
        usedMicro: 0n,
        endedMicro: 0n,
      };
      model.coupons.push(coupon);
      // The coupon's own balance lives on its record; the funder's account pays for it.
      credit(model, `subsidy_receivable:${input.program}`, -input.amountMicro);
      expect(result.duplicate).toBe(false);
      expect(couponView(result.coupon)).toEqual(couponView(coupon));
    } else {
      const earlier = pick(model.grants, this.earlier);
      const replayed: GrantInput = {
        ...earlier,
        id: nextName(model, 'coupon'),
        atMs: model.nowMs,
        // The API defaults starts_at to "now", so a plain replay may carry another start.
        startsAtMs: this.replay === 'other-start' ? model.nowMs : earlier.startsAtMs,
      };
      if (this.replay === 'different-terms') {
        const changes: Partial<GrantInput>[] = [
          { amountMicro: earlier.amountMicro + 1n },
          { coverageBps: earlier.coverageBps === 10_000 ? 5_000 : 10_000 },
          { kind: earlier.kind === 'compute' ? 'storage' : 'compute' },
          { program: earlier.program === 'gov-compute' ? 'platform-promo' : 'gov-compute' },
          { models: earlier.models === null ? ['model-a'] : null },
          { regions: earlier.regions === null ? ['east'] : null },
          { priority: earlier.priority + 1 },
          { expiresAtMs: earlier.expiresAtMs === null ? model.nowMs + 1_000 : null },
        ];
        const changed = { ...replayed, ...pick(changes, this.changedTerm) };
        await expect(world.ledger.grantCoupon(changed)).rejects.toThrow(LedgerConflictError);
      } else {
        const result = await world.ledger.grantCoupon(replayed);
        expect(result.duplicate).toBe(true);
        expect(couponView(result.coupon)).toEqual(couponView(couponNamed(model, earlier.id)));
      }
    }
    await expectAgreement(model, world);
  }

  toString(): string {
    const { startsInMs, expiresInMs, ...terms } = this.terms;
    return `grant(tenant ${this.tenant}, ${JSON.stringify({ ...terms, amountMicro: `${terms.amountMicro}` })}, starts in ${startsInMs}, expires in ${expiresInMs}, ${this.replay} #${this.earlier}/${this.changedTerm})`;
  }
}

class VoidCoupon implements LedgerCommand {
  constructor(readonly coupon: number) {}

  check(model: Readonly<Model>): boolean {
    return model.coupons.length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const coupon = pick(model.coupons, this.coupon);
    const result = await world.ledger.voidCoupon(coupon.id, model.nowMs);
    if (coupon.status === 'active') {
      endCouponInModel(model, coupon, 'voided');
    }
    expect(result && couponView(result)).toEqual(couponView(coupon));
    expect(await world.ledger.voidCoupon('coupon-that-never-was', model.nowMs)).toBeUndefined();
    await expectAgreement(model, world);
  }

  toString(): string {
    return `voidCoupon(#${this.coupon})`;
  }
}

class Tick implements LedgerCommand {
  constructor(
    readonly elapsedMs: number,
    readonly expire: boolean,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1 + this.elapsedMs;
    if (this.expire) {
      const ending = model.coupons.filter(
        (coupon) =>
          coupon.status === 'active' &&
          coupon.expiresAtMs !== null &&
          coupon.expiresAtMs <= model.nowMs,
      );
      for (const coupon of ending) {
        endCouponInModel(model, coupon, 'expired');
      }
      expect(await world.ledger.expireCoupons(model.nowMs)).toBe(ending.length);
      expect(await world.ledger.expireCoupons(model.nowMs), 'expiry runs once').toBe(0);
    }
    await expectAgreement(model, world);
  }

  toString(): string {
    return `tick(${this.elapsedMs} ms${this.expire ? ', expire coupons' : ''})`;
  }
}

/** The storage tick's length in the sequences: short, so ticks of one tenant follow one another. */
const storageTickMs = 1_000;

/**
 * Charges one storage tick (the tick now falls in) for bytes the tenant holds: paid in full by
 * its storage coupons (in spending order, each up to its coverage) and the wallet, straight to
 * revenue, or not at all and recorded as arrears since the first unpaid tick of an unbroken run.
 * A second charge of the same tick changes nothing.
 */
class StorageTick implements LedgerCommand {
  constructor(
    readonly tenant: number,
    readonly bytes: number,
    readonly pricePerGbHourMicro: bigint,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    const tenantId = pick(tenantIds, this.tenant);
    const tickStartMs = Math.floor(model.nowMs / storageTickMs) * storageTickMs;
    const input = {
      tenantId,
      tickStartMs,
      tickMs: storageTickMs,
      bytes: this.bytes,
      pricePerGbHourMicro: this.pricePerGbHourMicro,
      region: '',
      atMs: model.nowMs,
    };
    const key = `${tenantId}:${tickStartMs}`;
    const recorded = model.storageTicks.get(key);
    const result = await world.ledger.chargeStorage(input);
    if (recorded) {
      expect(result).toMatchObject({ ...recorded, duplicate: true });
      await expectAgreement(model, world);
      return;
    }
    const byteSeconds = (BigInt(this.bytes) * BigInt(storageTickMs)) / 1_000n;
    const perGbHour = 1_000_000_000n * 3_600n;
    const costMicro = (byteSeconds * this.pricePerGbHourMicro + perGbHour - 1n) / perGbHour;
    const line: ChargedLine = { kind: 'storage', model: '', region: '', admittedAtMs: model.nowMs };
    const plan = holdPlan(model, tenantId, line, costMicro);
    const paid = plan.shortfallMicro === 0n;
    if (paid) {
      for (const take of plan.couponHolds) {
        const coupon = couponNamed(model, take.couponId ?? '');
        coupon.balanceMicro -= take.heldMicro;
        coupon.usedMicro += take.heldMicro;
      }
      credit(model, walletAccount(tenantId), -plan.walletMicro);
      credit(model, 'revenue', costMicro);
    }
    const before = model.storageTicks.get(`${tenantId}:${tickStartMs - storageTickMs}`);
    const arrearsSinceMs = paid ? null : (before?.arrearsSinceMs ?? tickStartMs);
    model.storageTicks.set(key, { paid, costMicro, arrearsSinceMs });
    expect(result).toMatchObject({ paid, costMicro, arrearsSinceMs, duplicate: false });
    expect(result.paidBy.reduce((sum, payer) => sum + payer.amountMicro, 0n)).toBe(
      paid ? costMicro : 0n,
    );
    expect(
      result.paidBy.every((payer) => payer.kind === 'storage' || payer.kind === 'wallet'),
    ).toBe(true);
    await expectAgreement(model, world);
  }

  toString(): string {
    return `storageTick(tenant ${this.tenant}, ${this.bytes} bytes at ${this.pricePerGbHourMicro}/GB-hour)`;
  }
}

/** What the model judged of a reservation before asking the store. */
type Affordability = {
  price: PinnedPrice;
  askedEstimateMicro: bigint;
  transportMicro: bigint;
  /** How the transport line would be paid, when the request is to cross regions. */
  transport: HoldPlan | undefined;
  /** The wallet the tokens may use: what the transport line left of it. */
  tokensWalletMicro: bigint;
  tokensAskedAffordable: boolean;
  /** What coupons would pay of the asked tokens. */
  tokensCouponsMicro: bigint;
  /** Every allowance up to the asked one, when the asked one is not affordable. */
  affordable: boolean[];
  largestAffordable: number;
  /** Affordability never comes back once lost: the clamp's search must then find the largest. */
  monotone: boolean;
};

class Reserve implements LedgerCommand {
  constructor(
    readonly tenant: number,
    readonly modelIndex: number,
    readonly regionIndex: number,
    readonly promptTokensEstimate: number,
    readonly outputTokensMax: number,
    readonly clampAllowed: boolean,
    readonly multiplierBps: number,
    readonly slot: number,
    readonly transport: TransportModel | null,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const tenantId = pick(tenantIds, this.tenant);
    const modelName = pick(modelNames, this.modelIndex);
    const region = pick(regionNames, this.regionIndex);
    const current = model.currentPrice.get(modelName);
    if (!current) {
      throw new Error(`no price for ${modelName}`);
    }
    const price: PinnedPrice = { ...current, multiplierBps: this.multiplierBps };
    const instanceId = pick(model.gateways, this.slot);
    const input = {
      requestId: nextName(model, 'request'),
      tenantId,
      keyId: `key-${tenantId}`,
      model: modelName,
      region,
      price,
      promptTokensEstimate: this.promptTokensEstimate,
      outputTokensMax: this.outputTokensMax,
      clampAllowed: this.clampAllowed,
      atMs: model.nowMs,
      instanceId,
      transport: this.transport ?? undefined,
    };
    const line: ChargedLine = {
      kind: 'compute',
      model: modelName,
      region,
      admittedAtMs: model.nowMs,
    };
    const judged = this.judge(model, tenantId, line, price);
    const result = await world.ledger.reserve(input);

    const transportShortMicro = judged.transport?.shortfallMicro ?? 0n;
    if (judged.tokensAskedAffordable && transportShortMicro === 0n) {
      expect(result).toEqual({
        ok: true,
        reservedMicro: judged.askedEstimateMicro + judged.transportMicro,
        outputTokensMax: this.outputTokensMax,
        clamped: false,
      });
    } else if (result.ok) {
      expect(transportShortMicro, 'a transport line is reserved in full').toBe(0n);
      this.expectClamp(result, judged);
    } else {
      this.expectRefusal(result, judged);
    }

    if (result.ok) {
      const tokens = holdPlan(
        model,
        tenantId,
        line,
        result.reservedMicro - judged.transportMicro,
        judged.tokensWalletMicro,
      );
      expect(tokens.shortfallMicro).toBe(0n);
      // Held as the store takes them: the tokens' coupons, the transport's, the wallet once.
      const walletMicro = tokens.walletMicro + (judged.transport?.walletMicro ?? 0n);
      const holds: HoldModel[] = [
        ...tokens.couponHolds,
        ...(judged.transport?.couponHolds ?? []),
        ...(walletMicro > 0n ? [{ couponId: null, heldMicro: walletMicro }] : []),
      ];
      for (const hold of holds) {
        if (hold.couponId === null) {
          model.walletHeld.set(tenantId, (model.walletHeld.get(tenantId) ?? 0n) + hold.heldMicro);
        } else {
          couponNamed(model, hold.couponId).heldMicro += hold.heldMicro;
        }
      }
      model.reservations.push({
        requestId: input.requestId,
        tenantId,
        model: modelName,
        region,
        price,
        admittedAtMs: model.nowMs,
        instanceId,
        promptTokensEstimate: this.promptTokensEstimate,
        outputTokensMax: result.outputTokensMax,
        reservedMicro: result.reservedMicro,
        transport: this.transport,
        holds,
        status: 'reserved',
        checkpoint: null,
        ending: null,
      });
    } else {
      // The gateway records a refused request; it holds nothing.
      await world.ledger.recordRejected(input);
      model.rejected.push({ requestId: input.requestId, tenantId });
    }
    await expectAgreement(model, world);
  }

  /**
   * The transport line is paid first, by transport coupons and the wallet; the tokens get what of
   * the wallet it leaves.
   */
  private judge(
    model: Model,
    tenantId: string,
    line: ChargedLine,
    price: PinnedPrice,
  ): Affordability {
    const transportMicro = this.transport === null ? 0n : transportCostOf(this.transport);
    const transport =
      this.transport === null
        ? undefined
        : holdPlan(model, tenantId, { ...line, kind: 'transport' }, transportMicro);
    const tokensWalletMicro =
      atLeastZero(walletAvailable(model, tenantId)) - (transport?.walletMicro ?? 0n);
    const askedEstimateMicro = estimateOf(price, this.promptTokensEstimate, this.outputTokensMax);
    const asked = holdPlan(model, tenantId, line, askedEstimateMicro, tokensWalletMicro);
    const tokensAskedAffordable = asked.shortfallMicro === 0n;
    // Every smaller allowance, only when the clamp or the refusal needs judging.
    const affordable = tokensAskedAffordable
      ? []
      : affordableAllowances(
          model,
          tenantId,
          line,
          price,
          this.promptTokensEstimate,
          this.outputTokensMax,
          tokensWalletMicro,
        );
    return {
      price,
      askedEstimateMicro,
      transportMicro,
      transport,
      tokensWalletMicro,
      tokensAskedAffordable,
      tokensCouponsMicro: asked.couponsMicro,
      affordable,
      largestAffordable: affordable.lastIndexOf(true),
      // With several partial-coverage coupons and a nearly empty wallet affordability can come
      // back (each coupon rounds its share down), and the clamp's search may then stop short or
      // refuse: a known gap, pinned in reservation-plan.test.ts.
      monotone: affordable.every((fits, index) => fits || !affordable[index + 1]),
    };
  }

  private expectClamp(result: Extract<ReserveResult, { ok: true }>, judged: Affordability): void {
    expect(this.clampAllowed, 'only a tenant that allows it is clamped').toBe(true);
    expect(result.clamped).toBe(true);
    expect(result.outputTokensMax).toBeGreaterThanOrEqual(1);
    expect(result.outputTokensMax).toBeLessThan(this.outputTokensMax);
    expect(judged.affordable[result.outputTokensMax], 'the clamped allowance is affordable').toBe(
      true,
    );
    if (judged.monotone) {
      expect(result.outputTokensMax).toBe(judged.largestAffordable);
    }
    expect(result.reservedMicro).toBe(
      estimateOf(judged.price, this.promptTokensEstimate, result.outputTokensMax) +
        judged.transportMicro,
    );
  }

  private expectRefusal(
    result: Extract<ReserveResult, { ok: false }>,
    judged: Affordability,
  ): void {
    const transportShortMicro = judged.transport?.shortfallMicro ?? 0n;
    const tokensClamped = this.clampAllowed && judged.largestAffordable >= 1;
    if (
      transportShortMicro > 0n &&
      (judged.tokensAskedAffordable || (judged.monotone && tokensClamped))
    ) {
      // The tokens alone would be reserved: the transport line is what the tenant cannot pay.
      const tokensMicro = judged.tokensAskedAffordable
        ? judged.askedEstimateMicro
        : estimateOf(judged.price, this.promptTokensEstimate, judged.largestAffordable);
      const neededMicro = tokensMicro + judged.transportMicro;
      expect(result).toEqual({
        ok: false,
        affordableOutputTokens: 0,
        neededMicro,
        availableMicro: neededMicro - transportShortMicro,
      });
      return;
    }
    if (transportShortMicro > 0n && this.clampAllowed && !judged.monotone) {
      // Whether the tokens would be clamped is the known gap above: nothing more to judge.
      return;
    }
    expect(result.neededMicro).toBe(judged.askedEstimateMicro + judged.transportMicro);
    expect(result.availableMicro).toBe(
      judged.tokensWalletMicro +
        (judged.transport?.walletMicro ?? 0n) +
        judged.tokensCouponsMicro +
        (judged.transport?.couponsMicro ?? 0n),
    );
    expect(result.affordableOutputTokens).toBeLessThan(this.outputTokensMax);
    if (result.affordableOutputTokens >= 1) {
      expect(judged.affordable[result.affordableOutputTokens]).toBe(true);
    }
    if (judged.monotone) {
      expect(result.affordableOutputTokens).toBe(Math.max(0, judged.largestAffordable));
      if (this.clampAllowed) {
        expect(
          judged.largestAffordable <= 0,
          'refused with the clamp: no token is affordable',
        ).toBe(true);
      }
    }
  }

  toString(): string {
    const transport =
      this.transport === null
        ? ''
        : `, transport ${this.transport.bytes} bytes at ${this.transport.pricePerGbMicro}/GB`;
    return `reserve(tenant ${this.tenant}, model ${this.modelIndex}, region ${this.regionIndex}, prompt ${this.promptTokensEstimate}, max ${this.outputTokensMax}, clamp ${this.clampAllowed}, x${this.multiplierBps}, gateway ${this.slot}${transport})`;
  }
}

class ReserveAgain implements LedgerCommand {
  constructor(readonly reservation: number) {}

  check(model: Readonly<Model>): boolean {
    return model.reservations.length > 0;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const reservation = pick(model.reservations, this.reservation);
    const result = await world.ledger.reserve({
      requestId: reservation.requestId,
      tenantId: reservation.tenantId,
      keyId: `key-${reservation.tenantId}`,
      model: reservation.model,
      region: reservation.region,
      price: reservation.price,
      promptTokensEstimate: reservation.promptTokensEstimate,
      outputTokensMax: 1,
      clampAllowed: false,
      atMs: model.nowMs,
      instanceId: pick(model.gateways, 0),
    });
    expect(result).toMatchObject({ ok: true, reservedMicro: reservation.reservedMicro });
    await expectAgreement(model, world);
  }

  toString(): string {
    return `reserveAgain(#${this.reservation})`;
  }
}

class Checkpoint implements LedgerCommand {
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

class Settle implements LedgerCommand {
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
class SettleAgain implements LedgerCommand {
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

class Release implements LedgerCommand {
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

class ChangePrice implements LedgerCommand {
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

/** A gateway dies (kill -9): its instance stops heartbeating and a new one starts in its slot. */
class Crash implements LedgerCommand {
  constructor(readonly slot: number) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const slot = this.slot % gatewaySlots;
    const generation = Number(pick(model.gateways, slot).split('-').at(-1)) + 1;
    const restarted = `gateway-${slot}-${generation}`;
    model.gateways[slot] = restarted;
    await world.ledger.heartbeat(restarted, model.nowMs);
    model.heartbeats.set(restarted, model.nowMs);
    await expectAgreement(model, world);
  }

  toString(): string {
    return `crash(gateway ${this.slot % gatewaySlots})`;
  }
}

/**
 * The sweeper ends what a dead gateway left, and only that: while the gateways live they
 * heartbeat first, and their requests, however old, are theirs to end. With `gatewaysAlive`
 * false every gateway has stopped, and everything still open is swept.
 */
async function sweepBoth(model: Model, world: World, gatewaysAlive: boolean): Promise<void> {
  if (gatewaysAlive) {
    for (const instanceId of model.gateways) {
      await world.ledger.heartbeat(instanceId, model.nowMs);
      model.heartbeats.set(instanceId, model.nowMs);
    }
  }
  const ownerSilentBeforeMs = gatewaysAlive ? model.nowMs : model.nowMs + 1;
  const orphaned = openReservations(model)
    .filter(
      (reservation) =>
        (model.heartbeats.get(reservation.instanceId) ?? Number.NEGATIVE_INFINITY) <
        ownerSilentBeforeMs,
    )
    .sort((left, right) => left.admittedAtMs - right.admittedAtMs);
  // No gateway's own hold outlives its deadline in the model: the overdue part finds nothing.
  const swept = await world.ledger.sweep({
    atMs: model.nowMs,
    ownerSilentBeforeMs,
    overdue: { instanceId: 'no-such-gateway', admittedBeforeMs: 0 },
  });
  for (const reservation of orphaned) {
    const checkpoint = reservation.checkpoint;
    const backend = backends.find((candidate) => candidate.id === checkpoint?.backendId);
    if (checkpoint && backend) {
      settleInModel(
        model,
        reservation,
        {
          inputTokens: checkpoint.inputTokens,
          cachedInputTokens: 0,
          outputTokens: checkpoint.outputTokens,
        },
        backend,
        reservation.price,
        'gateway_crash',
      );
    } else {
      releaseInModel(model, reservation, 'gateway_crash');
    }
  }
  expect(swept).toBe(orphaned.length);
}

class Sweep implements LedgerCommand {
  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    await sweepBoth(model, world, true);
    await expectAgreement(model, world);
  }

  toString(): string {
    return 'sweep()';
  }
}

/** The operator publishes a provider's next payout rate, in force now or later (never earlier). */
class ChangePayoutRate implements LedgerCommand {
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
class Payout implements LedgerCommand {
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
const hourMs = 3_600_000;

/**
 * Leases a term of whole backends (their accelerators at a card-hour price, for some hours; its
 * start may be past, so an early end finds hours delivered): the gateway records it, then the
 * ledger charges its whole cost at once, compute coupons first (in spending order, each up to its
 * coverage), then the wallet, to revenue; or, when they cannot pay it all, charges nothing and
 * holds nothing, and the record is dropped. A second charge of the lease changes nothing.
 */
class ChargeLease implements LedgerCommand {
  constructor(
    readonly tenant: number,
    readonly modelIndex: number,
    readonly regionIndex: number,
    readonly accelerators: readonly number[],
    readonly hours: number,
    readonly cardHourMicro: bigint,
    readonly startsInMs: number,
    readonly again: boolean,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const lease = this.leaseOf(model);
    const term = { startsAtMs: lease.startsAtMs, hours: lease.hours, backends: lease.backends };
    const line = await recordLease(world.store.leases, {
      id: lease.id,
      tenantId: lease.tenantId,
      model: lease.model,
      term: { ...term, cardHourMicro: lease.cardHourMicro },
      atMs: model.nowMs,
    });
    expect(line.costMicro).toBe(lease.costMicro);
    const input = {
      leaseId: lease.id,
      tenantId: lease.tenantId,
      model: lease.model,
      region: lease.region,
      line,
      atMs: model.nowMs,
    };
    const result = await world.ledger.chargeLease(input);
    const chargedLine: ChargedLine = {
      kind: 'compute',
      model: lease.model,
      region: lease.region,
      admittedAtMs: model.nowMs,
    };
    const plan = holdPlan(model, lease.tenantId, chargedLine, lease.costMicro);
    if (plan.shortfallMicro > 0n) {
      expect(result).toEqual({
        paid: false,
        costMicro: lease.costMicro,
        availableMicro: lease.costMicro - plan.shortfallMicro,
      });
      await world.store.leases.drop(lease.id);
      count('lease refused');
      await expectAgreement(model, world);
      return;
    }
    const payments = new Payments();
    for (const take of plan.couponHolds) {
      const coupon = couponNamed(model, take.couponId ?? '');
      coupon.balanceMicro -= take.heldMicro;
      coupon.usedMicro += take.heldMicro;
      payments.add('coupon', coupon.id, take.heldMicro, 'compute');
    }
    move(model, walletAccount(lease.tenantId), 'revenue', plan.walletMicro);
    payments.add('wallet', null, plan.walletMicro);
    credit(model, 'revenue', plan.couponsMicro);
    lease.paidBy = payments.list;
    model.leases.push(lease);
    for (const payer of lease.paidBy) {
      count(`lease paid with ${payer.kind}`);
    }
    expect(result).toEqual({
      paid: true,
      costMicro: lease.costMicro,
      paidBy: lease.paidBy,
      duplicate: false,
    });
    await world.store.leases.markPaid(lease.id, toStoredPaidBy(lease.paidBy), model.nowMs);
    if (this.again) {
      // Charged again, it reports the payers of the charge recorded.
      const again = await world.ledger.chargeLease({ ...input, atMs: model.nowMs + 1 });
      expect(again).toEqual({
        paid: true,
        costMicro: lease.costMicro,
        paidBy: lease.paidBy,
        duplicate: true,
      });
    }
    await expectAgreement(model, world);
  }

  private leaseOf(model: Model): LeaseModel {
    const id = nextName(model, 'lse');
    const backends = this.accelerators.map((accelerators, index) => ({
      backendId: `${id}-gpu-${index}`,
      providerId: pick(providers, index).id,
      accelerators,
      failedAtMs: null,
    }));
    const accelerators = this.accelerators.reduce((sum, count) => sum + count, 0);
    return {
      id,
      tenantId: pick(tenantIds, this.tenant),
      model: pick(modelNames, this.modelIndex),
      region: pick(regionNames, this.regionIndex),
      startsAtMs: model.nowMs + this.startsInMs,
      hours: this.hours,
      cardHourMicro: this.cardHourMicro,
      backends,
      costMicro: this.cardHourMicro * BigInt(accelerators) * BigInt(this.hours),
      paidBy: [],
      ended: false,
    };
  }

  toString(): string {
    return `chargeLease(tenant ${this.tenant}, model ${this.modelIndex}, region ${this.regionIndex}, accelerators ${this.accelerators.join('+')}, ${this.hours} h at ${this.cardHourMicro}, starts in ${this.startsInMs}${this.again ? ', again' : ''})`;
  }
}

/** Whole hours of the term a backend served before `endMs` and before it failed. */
function hoursServed(lease: LeaseModel, backend: LeasedBackendModel, endMs: number): number {
  const untilMs = Math.min(endMs, backend.failedAtMs ?? endMs);
  return untilMs <= lease.startsAtMs
    ? 0
    : Math.min(lease.hours, Math.ceil((untilMs - lease.startsAtMs) / hourMs));
}

/**
 * Gives `refundMicro` back to the lease's payers, each its part pro rata to what it paid (rounded
 * down, the remainder to the first payer); a coupon that has ended keeps no claim. Answers what
 * went back.
 */
function refundLeaseInModel(model: Model, lease: LeaseModel, refundMicro: bigint): bigint {
  const parts = lease.paidBy.map((payer) => (payer.amountMicro * refundMicro) / lease.costMicro);
  const [firstPart] = parts;
  if (firstPart !== undefined) {
    parts[0] = firstPart + refundMicro - parts.reduce((sum, part) => sum + part, 0n);
  }
  let refundedMicro = 0n;
  lease.paidBy.forEach((payer, index) => {
    const part = parts[index] ?? 0n;
    if (payer.source === 'wallet') {
      move(model, 'revenue', walletAccount(lease.tenantId), part);
      refundedMicro += part;
      return;
    }
    const coupon = couponNamed(model, payer.id ?? '');
    if (coupon.status === 'active') {
      credit(model, 'revenue', -part);
      coupon.balanceMicro += part;
      coupon.usedMicro -= part;
      refundedMicro += part;
    }
  });
  return refundedMicro;
}

/**
 * Ends a running or scheduled lease now, its first backend perhaps found failed some time into
 * the term: the whole hours not delivered go back to its payers, and each provider is credited
 * its payout share (the rate in force at the start) of what its backends delivered. Once.
 */
class EndLease implements LedgerCommand {
  constructor(
    readonly lease: number,
    readonly failedInMs: number | null,
  ) {}

  check(model: Readonly<Model>): boolean {
    return model.leases.some((lease) => !lease.ended);
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const lease = pick(
      model.leases.filter((candidate) => !candidate.ended),
      this.lease,
    );
    const [first] = lease.backends;
    if (this.failedInMs !== null && first) {
      first.failedAtMs = lease.startsAtMs + this.failedInMs;
      await world.store.leases.markBackendFailed(lease.id, first.backendId, first.failedAtMs);
    }
    expect(await world.store.leases.endEarly(lease.id, model.nowMs)).toBe(true);
    lease.ended = true;
    let refundMicro = 0n;
    const delivered = new Map<string, bigint>();
    for (const backend of lease.backends) {
      const served = hoursServed(lease, backend, model.nowMs);
      const perHourMicro = BigInt(backend.accelerators) * lease.cardHourMicro;
      refundMicro += BigInt(lease.hours - served) * perHourMicro;
      delivered.set(
        backend.providerId,
        (delivered.get(backend.providerId) ?? 0n) + BigInt(served) * perHourMicro,
      );
    }
    const refundedMicro = refundLeaseInModel(model, lease, refundMicro);
    count(refundMicro === 0n ? 'lease ended, nothing refunded' : 'lease ended with a refund');
    if (refundedMicro < refundMicro) {
      count('lease refund forfeited by an ended coupon');
    }
    let providerSharesMicro = 0n;
    for (const [providerId, valueMicro] of delivered) {
      const payoutBps = payoutBpsInModel(model, providerId, lease.startsAtMs);
      const shareMicro = (valueMicro * BigInt(payoutBps)) / 10_000n;
      move(model, 'revenue', `provider_payable:${providerId}`, shareMicro);
      providerSharesMicro += shareMicro;
    }
    const input = {
      leaseId: lease.id,
      tenantId: lease.tenantId,
      costMicro: lease.costMicro,
      paidBy: lease.paidBy,
      refundMicro,
      delivered: [...delivered].map(([providerId, valueMicro]) => ({ providerId, valueMicro })),
      startsAtMs: lease.startsAtMs,
      atMs: model.nowMs,
    };
    expect(await world.ledger.endLease(input)).toEqual({
      refundedMicro,
      providerSharesMicro,
      duplicate: false,
    });
    expect(await world.ledger.endLease({ ...input, atMs: model.nowMs + 1 })).toMatchObject({
      duplicate: true,
    });
    await world.store.leases.markSettled(lease.id, model.nowMs);
    await expectAgreement(model, world);
  }

  toString(): string {
    return `endLease(#${this.lease}${this.failedInMs === null ? '' : `, first backend failed ${this.failedInMs} ms in`})`;
  }
}

class Adjust implements LedgerCommand {
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

class ReadStatements implements LedgerCommand {
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

// ---------------------------------------------------------------------------------------------
// Arbitraries.

const index = fc.nat({ max: 1_000 });
const outcomes = fc.constantFrom<UsageOutcome>('complete', 'client_disconnect', 'upstream_error');

const grantTerms = fc.record({
  kind: fc.constantFrom<GrantInput['kind']>(
    'compute',
    'compute',
    'compute',
    'storage',
    'transport',
    'transport',
  ),
  program: fc.constantFrom(...programs),
  amountMicro: fc.oneof(
    { arbitrary: fc.constant(0n), weight: 1 },
    { arbitrary: fc.bigInt({ min: 1n, max: 3_000n }), weight: 6 },
  ),
  coverageBps: fc.constantFrom(10_000, 10_000, 5_000, 7_000, 3_000, 3_333),
  models: fc.constantFrom<string[] | null>(
    null,
    null,
    ['model-a'],
    ['model-b'],
    ['model-a', 'model-b'],
  ),
  regions: fc.constantFrom<string[] | null>(null, null, ['east'], ['west'], ['east', 'north']),
  priority: fc.constantFrom(10, 50, 50, 90),
  startsInMs: fc.constantFrom(-1_000, 0, 0, 500, 5_000),
  expiresInMs: fc.constantFrom(null, null, 1, 2_000, 40_000, 800_000),
});

/** Most activity on one tenant, so its money meets many requests; some on the other. */
const tenant = fc.constantFrom(0, 0, 0, 1);

const topUps = fc
  .tuple(
    tenant,
    fc.bigInt({ min: 1n, max: 4_000n }),
    fc.constantFrom('new', 'new', 'new', 'same', 'different-amount'),
    index,
  )
  .map(([tenantIndex, amount, replay, earlier]) => new TopUp(tenantIndex, amount, replay, earlier));

const grants = fc
  .tuple(
    tenant,
    grantTerms,
    fc.constantFrom('new', 'new', 'new', 'same', 'other-start', 'different-terms'),
    index,
    index,
  )
  .map(
    ([tenantIndex, terms, replay, earlier, changedTerm]) =>
      new Grant(tenantIndex, terms, replay, earlier, changedTerm),
  );

/** Half the requests are to cross regions: a transport line of 0 to 1,800 micro-units. */
const transports = fc.oneof(
  { arbitrary: fc.constant(null), weight: 1 },
  {
    arbitrary: fc.record({
      bytes: fc.constantFrom(0, 1_000, 2_000_000, 2_000_000, 20_000_000),
      pricePerGbMicro: fc.constantFrom(0n, 20_000n, 90_000n, 90_000n),
    }),
    weight: 1,
  },
);

const reserves = fc
  .tuple(
    tenant,
    index,
    index,
    fc.nat({ max: 400 }),
    fc.integer({ min: 1, max: 300 }),
    fc.boolean(),
    fc.constantFrom(10_000, 10_000, 5_000, 7_500),
    index,
    transports,
  )
  .map((fields) => new Reserve(...fields));

const checkpoints = fc
  .tuple(index, fc.nat({ max: 500 }), fc.nat({ max: 400 }), index)
  .map((fields) => new Checkpoint(...fields));

const settles = fc
  .tuple(
    index,
    fc.constantFrom(0, 50, 100, 100, 120),
    fc.constantFrom(0, 0, 50),
    fc.constantFrom(0, 30, 100, 100, 150),
    index,
    outcomes,
    fc.constantFrom(null, null, null, 0, 50, 100, 100, 150),
  )
  .map((fields) => new Settle(...fields));

/** What the main tenant starts with, so that its first requests are often admitted. */
const openingBalance = fc.oneof(
  { arbitrary: fc.constant(0n), weight: 1 },
  { arbitrary: fc.bigInt({ min: 1n, max: 8_000n }), weight: 3 },
);

/** Coupons the main tenant starts with, so that requests often meet coupons. */
const openingGrants = fc.array(grantTerms, { maxLength: 3 });

/** Repeated entries weigh more: requests and their money come up most often. */
const commands = fc.commands(
  [
    topUps,
    topUps,
    grants,
    grants,
    index.map((coupon) => new VoidCoupon(coupon)),
    fc
      .tuple(fc.constantFrom(0, 1, 500, 2_000, 30_000, 700_000), fc.boolean())
      .map(([elapsed, expire]) => new Tick(elapsed, expire)),
    reserves,
    reserves,
    reserves,
    checkpoints,
    settles,
    settles,
    settles,
    fc
      .tuple(index, fc.nat({ max: 300 }))
      .map(([reservation, output]) => new SettleAgain(reservation, output)),
    fc.tuple(index, outcomes).map(([reservation, outcome]) => new Release(reservation, outcome)),
    fc.tuple(index, index).map(([modelIndex, choice]) => new ChangePrice(modelIndex, choice)),
    index.map((slot) => new Crash(slot)),
    index.map((reservation) => new ReserveAgain(reservation)),
    fc.constant(new Sweep()),
    fc
      .tuple(
        tenant,
        fc.constantFrom(0, 1, 4_096, 3_000_000_000, 90_000_000_000),
        fc.constantFrom(0n, 1n, 150_000n, 3_333_333n),
      )
      .map(([tenantIndex, bytes, price]) => new StorageTick(tenantIndex, bytes, price)),
    fc
      .tuple(index, fc.constantFrom(0, 5_000, 7_777, 10_000), fc.constantFrom(0, 1, 500, 5_000))
      .map(([provider, bps, inMs]) => new ChangePayoutRate(provider, bps, inMs)),
    fc
      .tuple(
        index,
        fc.integer({ min: 1, max: 100 }),
        fc.constantFrom('new', 'new', 'too-much', 'same', 'different-amount'),
        index,
      )
      .map(([provider, share, replay, earlier]) => new Payout(provider, share, replay, earlier)),
    fc
      .tuple(
        tenant,
        fc.oneof(fc.bigInt({ min: 1n, max: 3_000n }), fc.bigInt({ min: -3_000n, max: -1n })),
        fc.constantFrom('new', 'new', 'same', 'different-amount'),
        index,
      )
      .map(
        ([tenantIndex, amount, replay, earlier]) =>
          new Adjust(tenantIndex, amount, replay, earlier),
      ),
    fc
      .tuple(
        tenant,
        index,
        index,
        fc.constantFrom([1], [2], [1, 2], [3, 1]),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(1n, 1n, 7n, 100n, 333n),
        fc.constantFrom(-2.5 * 3_600_000, -3_600_001, 0, 0, 3_600_000),
        fc.boolean(),
      )
      .map((fields) => new ChargeLease(...fields)),
    fc
      .tuple(index, fc.constantFrom(null, null, 0, 1_800_000, 4_000_000))
      .map(([lease, failedInMs]) => new EndLease(lease, failedInMs)),
    fc
      .tuple(index, fc.constantFrom(null, null, 0, 1_800_000, 4_000_000))
      .map(([lease, failedInMs]) => new EndLease(lease, failedInMs)),
    fc.constant(new ReadStatements()),
  ],
  { maxCommands: 30, size: 'max' },
);

/** With LEDGER_PROPERTY_STATS=1, counts what the sequences exercised and prints it at the end. */
const tally = new Map<string, number>();
const tallyWanted = process.env.LEDGER_PROPERTY_STATS === '1';

function count(what: string): void {
  tally.set(what, (tally.get(what) ?? 0) + 1);
}

function tallied(command: LedgerCommand): LedgerCommand {
  return {
    check: (model) => command.check(model),
    run: async (model, world) => {
      count(`command ${command.toString().split('(')[0]}`);
      await command.run(model, world);
    },
    toString: () => command.toString(),
  };
}

function tallyEndings(model: Model): void {
  for (const reservation of model.reservations) {
    const payers = new Set(reservation.ending?.paidBy.map((payer) => payer.kind));
    if (reservation.transport !== null) {
      count('reserved with transport');
    }
    if (
      reservation.holds.some(
        (hold) => hold.couponId !== null && couponNamed(model, hold.couponId).kind === 'transport',
      )
    ) {
      count('held by a transport coupon');
    }
    count(
      `${reservation.status}${reservation.ending?.outcome === 'gateway_crash' ? ' by the sweeper' : ''}`,
    );
    for (const payer of payers) {
      count(`settled with ${payer}`);
    }
  }
  for (const _rejected of model.rejected) {
    count('refused');
  }
}

afterAll(() => {
  if (tallyWanted) {
    console.log(new Map([...tally].sort()));
  }
});

/** The suite on each of `stores`, with its number of sequences. */
export function describeLedgerProperties(stores: readonly LedgerStore[]): void {
  describe.each(stores)('the $name ledger against a reference model', (store) => {
    const sequenceCount = sequenceCounts[store.name];
    beforeAll(() => store.setUp(inject('postgresAdminUrl')));
    afterAll(() => store.tearDown());

    it(
      `agrees with the model after every command of ${sequenceCount} seeded sequences, and leaks no hold`,
      async () => {
        await fc.assert(
          fc.asyncProperty(
            openingBalance,
            openingGrants,
            commands,
            async (openingMicro, grantsFirst, sequence) => {
              const model = initialModel();
              const world = await openWorld(model, store);
              try {
                for (const instanceId of model.gateways) {
                  await world.ledger.heartbeat(instanceId, model.nowMs);
                  model.heartbeats.set(instanceId, model.nowMs);
                }
                if (openingMicro > 0n) {
                  await new TopUp(0, openingMicro, 'new', 0).run(model, world);
                }
                for (const terms of grantsFirst) {
                  await new Grant(0, terms, 'new', 0, 0).run(model, world);
                }
                const run = tallyWanted ? [...sequence].map(tallied) : sequence;
                await fc.asyncModelRun(() => ({ model, real: world }), run);
                // Quiet at last: the gateways stop, everything still open is swept, nothing stays held.
                model.nowMs += longestRequestMs + 1;
                await sweepBoth(model, world, false);
                await expectAgreement(model, world);
                await expectStatements(model, world);
                expect(openReservations(model)).toEqual([]);
                expect((await world.ledger.tenantMoney('tenant-1', model.nowMs)).holdsMicro).toBe(
                  0n,
                );
                if (tallyWanted) {
                  tallyEndings(model);
                }
              } finally {
                await world.store.close();
              }
            },
          ),
          { seed: propertySeed, numRuns: sequenceCount },
        );
      },
      60_000 + sequenceCount * sequenceMsMax[store.name],
    );
  });
}
