/**
 * The arbitraries of the ledger's property suite: how fast-check draws each command's fields, the
 * opening balance and coupons, and the weighted mix of commands in a sequence (repeated entries
 * weigh more: requests and their money come up most often).
 */
import fc from 'fast-check';
import type { GrantInput, UsageOutcome } from '../../../src/billing/ledger.ts';
import { Grant, Tick, TopUp, VoidCoupon } from './commands/funding-commands.ts';
import { Crash, Sweep } from './commands/gateway-commands.ts';
import { ChargeLease, EndLease } from './commands/lease-commands.ts';
import {
  Adjust,
  ChangePayoutRate,
  ChangePrice,
  Payout,
  ReadStatements,
} from './commands/operator-commands.ts';
import { Checkpoint, Release, Settle, SettleAgain } from './commands/request-endings.ts';
import { Reserve, ReserveAgain } from './commands/reserve.ts';
import { StorageTick } from './commands/storage-tick.ts';
import { programs } from './fixed-world.ts';

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
export const openingBalance = fc.oneof(
  { arbitrary: fc.constant(0n), weight: 1 },
  { arbitrary: fc.bigInt({ min: 1n, max: 8_000n }), weight: 3 },
);

/** Coupons the main tenant starts with, so that requests often meet coupons. */
export const openingGrants = fc.array(grantTerms, { maxLength: 3 });

/** Repeated entries weigh more: requests and their money come up most often. */
export const commands = fc.commands(
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
