/**
 * The SQLite ledger keeps the tenants' balances, coupons and open reservations in memory
 * (tenant-balances.ts, sqlite-coupon-rows.ts, sqlite-ledger-unit.ts). Two connections on one
 * file stand for two processes, each with its own memory. Seeded sequences of top-ups, grants,
 * voids, reservations at the exact edge of what the tenant can pay (as the file says just before),
 * settles, releases and sweeps, each through either connection, must:
 * - admit a request whose estimate the file's free money covers, and refuse one a micro-unit
 *   beyond it, whichever connection wrote last (memory never stale after another's write);
 * - never settle a request twice, even when the other connection swept it;
 * - leave each connection's memory equal to the file (the ledger check compares them) and the
 *   ledger check clean after every step.
 * LEDGER_MEMORY_RUNS sets the number of sequences (default 60).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PinnedPrice } from '../src/billing/cost.ts';
import type { Ledger } from '../src/billing/ledger.ts';
import { openSqlite } from '../src/runtime/node/sqlite/sqlite-database.ts';
import { type LedgerWorld, sqliteStore } from './support/ledger-stores.ts';

const runCount = Number(process.env.LEDGER_MEMORY_RUNS ?? '60');
const tenantId = 'tenant-memory';
/** One micro-unit per prompt token and nothing for output: an estimate is its prompt tokens. */
const price: PinnedPrice = {
  priceId: 'price-memory',
  inputPerMillion: 1_000_000n,
  cachedInputPerMillion: 0n,
  outputPerMillion: 0n,
  multiplierBps: 10_000,
};
const servedBy = { backendId: 'backend-east', providerId: 'provider-1', region: 'east' };
const instanceIds = ['gateway-0', 'gateway-1'] as const;

type Step =
  | { action: 'top up' | 'grant'; by: 0 | 1; amountMicro: number }
  | { action: 'void'; by: 0 | 1; pick: number }
  | { action: 'reserve'; by: 0 | 1; beyond: boolean; shareBps: number }
  | { action: 'settle' | 'release'; by: 0 | 1; pick: number; usedBps: number }
  | { action: 'sweep'; by: 0 | 1 };

const by = fc.constantFrom<0 | 1>(0, 1);
const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    action: fc.constantFrom<'top up' | 'grant'>('top up', 'grant'),
    by,
    amountMicro: fc.integer({ min: 1, max: 5_000 }),
  }),
  fc.record({ action: fc.constant<'void'>('void'), by, pick: fc.nat() }),
  fc.record({
    action: fc.constant<'reserve'>('reserve'),
    by,
    beyond: fc.boolean(),
    shareBps: fc.integer({ min: 0, max: 10_000 }),
  }),
  fc.record({
    action: fc.constantFrom<'settle' | 'release'>('settle', 'release'),
    by,
    pick: fc.nat(),
    usedBps: fc.integer({ min: 0, max: 10_000 }),
  }),
  fc.record({ action: fc.constant<'sweep'>('sweep'), by }),
);

type Run = {
  world: LedgerWorld;
  ledgers: Ledger[];
  /** A third connection reading the file as it stands. */
  freeMicro: () => bigint;
  closeReader: () => void;
  open: { requestId: string; estimateMicro: bigint }[];
  coupons: string[];
  /** A voided grant's freed holds leave the tenant: free money is then not followed exactly. */
  voided: boolean;
  nextNumber: number;
};

async function openRun(): Promise<Run> {
  const world = await sqliteStore.openWorld(
    {
      tenants: [{ id: tenantId, clampAllowed: false }],
      providers: [{ id: 'provider-1', payoutBps: 7_000 }],
      backends: [],
      prices: [],
    },
    { ledgerCount: 2, onFile: true },
  );
  const reader = openSqlite(world.location);
  const free = reader.connection
    .prepare(
      `SELECT COALESCE(SUM(credits_posted - debits_posted - debits_pending), 0) FROM accounts
       WHERE owner_id = ? AND kind IN ('wallet', 'coupon')`,
    )
    .pluck()
    .safeIntegers(true);
  return {
    world,
    ledgers: world.ledgers,
    freeMicro: () => free.get(tenantId) as bigint,
    closeReader: () => reader.close(),
    open: [],
    coupons: [],
    voided: false,
    nextNumber: 0,
  };
}

function ledgerOf(run: Run, index: 0 | 1): Ledger {
  const ledger = run.ledgers[index];
  if (!ledger) {
    throw new Error('a run has two ledgers');
  }
  return ledger;
}

function pickOpen(run: Run, pick: number) {
  const index = pick % run.open.length;
  const [taken] = run.open.splice(index, 1);
  return taken;
}

async function topUpOrGrant(run: Run, ledger: Ledger, step: Step & { amountMicro: number }) {
  run.nextNumber += 1;
  const amountMicro = BigInt(step.amountMicro);
  const reference = `money-${run.nextNumber}`;
  if (step.action === 'top up') {
    await ledger.topUp({ tenantId, amountMicro, reference, atMs: run.nextNumber });
    return;
  }
  const id = `coupon-${run.nextNumber}`;
  await ledger.grantCoupon({
    id,
    tenantId,
    kind: 'compute',
    program: 'memory-program',
    amountMicro,
    coverageBps: 10_000,
    models: null,
    regions: null,
    priority: 50,
    startsAtMs: 0,
    expiresAtMs: null,
    reference,
    atMs: run.nextNumber,
  });
  run.coupons.push(id);
}

/** A reservation of exactly the free money the file shows (scaled down), or one micro-unit more. */
async function reserveAtEdge(run: Run, ledger: Ledger, step: Step & { action: 'reserve' }) {
  run.nextNumber += 1;
  const requestId = `request-${run.nextNumber}`;
  const freeMicro = run.freeMicro();
  const estimateMicro = step.beyond
    ? freeMicro + 1n
    : (freeMicro * BigInt(step.shareBps)) / 10_000n;
  if (estimateMicro === 0n) {
    return;
  }
  const result = await ledger.reserve({
    requestId,
    tenantId,
    keyId: 'key-memory',
    model: 'model-a',
    region: 'east',
    price,
    promptTokensEstimate: Number(estimateMicro),
    outputTokensMax: 1,
    clampAllowed: false,
    atMs: run.nextNumber,
    instanceId: instanceIds[step.by],
  });
  expect(result.ok, `${requestId} of ${estimateMicro} with ${freeMicro} free`).toBe(!step.beyond);
  if (result.ok) {
    expect(result.reservedMicro).toBe(estimateMicro);
    run.open.push({ requestId, estimateMicro });
  }
}

/** The free money of the file equals `expected`, unless a voided grant took some away. */
function expectFree(run: Run, expected: bigint): void {
  if (!run.voided) {
    expect(run.freeMicro()).toBe(expected);
  }
}

/** Settles or releases an open request, through either connection. */
async function endRequest(run: Run, ledger: Ledger, step: Step & { action: 'settle' | 'release' }) {
  const taken = pickOpen(run, step.pick);
  if (!taken) {
    return;
  }
  run.nextNumber += 1;
  const freeBefore = run.freeMicro();
  if (step.action === 'release') {
    await ledger.release({
      requestId: taken.requestId,
      outcome: 'client_disconnect',
      servedBy,
      atMs: run.nextNumber,
    });
    expectFree(run, freeBefore + taken.estimateMicro);
    return;
  }
  const inputTokens = Number((taken.estimateMicro * BigInt(step.usedBps)) / 10_000n);
  const settled = await ledger.settle({
    requestId: taken.requestId,
    usage: {
      inputTokens,
      cachedInputTokens: 0,
      outputTokens: 0,
      reasoningTokens: undefined,
      source: 'provider',
    },
    outcome: 'complete',
    servedBy,
    price,
    atMs: run.nextNumber,
  });
  expect(settled.costMicro).toBe(BigInt(inputTokens));
  // The holds give back what the request did not use: the tenant pays its cost once.
  expectFree(run, freeBefore + taken.estimateMicro - BigInt(inputTokens));
}

/** The other gateway is taken for dead: every reservation still open is released by `ledger`. */
async function sweepAll(run: Run, ledger: Ledger) {
  run.nextNumber += 1;
  const freeBefore = run.freeMicro();
  const swept = await ledger.sweep({
    atMs: run.nextNumber,
    ownerSilentBeforeMs: Number.MAX_SAFE_INTEGER,
    overdue: { instanceId: 'none', admittedBeforeMs: 0 },
  });
  expect(swept).toBe(run.open.length);
  const heldMicro = run.open.reduce((sum, request) => sum + request.estimateMicro, 0n);
  expectFree(run, freeBefore + heldMicro);
  // Ended elsewhere: a settle through either connection is a duplicate, charging nothing.
  for (const request of run.open.splice(0)) {
    for (const index of [0, 1] as const) {
      const again = await ledgerOf(run, index).settle({
        requestId: request.requestId,
        usage: {
          inputTokens: 1,
          cachedInputTokens: 0,
          outputTokens: 0,
          reasoningTokens: undefined,
          source: 'provider',
        },
        outcome: 'complete',
        servedBy,
        price,
        atMs: run.nextNumber,
      });
      expect(again.costMicro).toBe(0n);
    }
  }
  expectFree(run, freeBefore + heldMicro);
}

async function runStep(run: Run, step: Step): Promise<void> {
  const ledger = ledgerOf(run, step.by);
  switch (step.action) {
    case 'top up':
    case 'grant':
      return topUpOrGrant(run, ledger, step);
    case 'void': {
      const couponId = run.coupons[step.pick % Math.max(run.coupons.length, 1)];
      if (couponId !== undefined) {
        await ledger.voidCoupon(couponId, run.nextNumber);
        run.voided = true;
      }
      return;
    }
    case 'reserve':
      return reserveAtEdge(run, ledger, step);
    case 'settle':
    case 'release':
      return endRequest(run, ledger, step);
    case 'sweep':
      return sweepAll(run, ledger);
  }
}

describe('SQLite ledger memory shared by two connections on one file', () => {
  it('decides from balances equal to the file, whoever wrote last', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary, { minLength: 1, maxLength: 30 }), async (steps) => {
        const run = await openRun();
        try {
          for (const step of steps) {
            await runStep(run, step);
            for (const ledger of run.ledgers) {
              const checked = await ledger.check();
              expect(checked.problems).toEqual([]);
            }
          }
        } finally {
          run.closeReader();
          await run.world.close();
        }
      }),
      { seed: 20261206, numRuns: runCount },
    );
  });
});
