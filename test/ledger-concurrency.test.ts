/**
 * The Ledger shared by two writers, on every store (DESIGN.md §4 invariants 2, 3, 6, 7 under
 * concurrency; billing.md §9 item 17). Two links to one store stand for two gateway processes:
 * two connections on one SQLite file, or two connection pools on one PostgreSQL database.
 * Seeded interleavings of their reserves, settles and releases, launched together (so that each
 * SQLite connection's group commit batches them, and PostgreSQL transactions overlap), must admit
 * exactly what the tenant's money covers, charge exactly the admitted requests and never
 * overdraw. A last test races two real processes.
 */
import { spawn } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PinnedPrice } from '../src/billing/cost.ts';
import type { Ledger, ReserveInput, SettleResult } from '../src/billing/ledger.ts';
import { projectRoot } from './support/cli-process.ts';
import { type LedgerStore, ledgerStores } from './support/ledger-stores.ts';

const tenantId = 'tenant-shared';
const everything = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };
const servedBy = { backendId: 'backend-east', providerId: 'provider-1', region: 'east' };
const price: PinnedPrice = {
  priceId: 'price-1',
  inputPerMillion: 1_000_000n,
  cachedInputPerMillion: 0n,
  outputPerMillion: 2_000_000n,
  multiplierBps: 10_000,
};
const promptTokens = 100;
const outputTokensMax = 50;
/** 100 prompt tokens at 1 micro-unit each and 50 output tokens at 2. */
const estimateMicro = 200n;

type SharedFile = {
  /** Where a racer process opens the same store: a file path or a postgres:// URL. */
  path: string;
  ledgers: [Ledger, Ledger];
  close(): Promise<void>;
};

const openedFiles: SharedFile[] = [];

afterEach(async () => {
  for (const file of openedFiles.splice(0)) {
    await file.close();
  }
});

/** One store, migrated once, linked twice as two processes would be. */
async function openSharedFile(store: LedgerStore): Promise<SharedFile> {
  const world = await store.openWorld(
    {
      tenants: [{ id: tenantId, clampAllowed: false }],
      providers: [{ id: 'provider-1', payoutBps: 7000 }],
      backends: [],
      prices: [],
    },
    { ledgerCount: 2, onFile: true },
  );
  const [first, second] = world.ledgers;
  if (!first || !second) {
    throw new Error('a shared store has two ledgers');
  }
  let closed = false;
  const file: SharedFile = {
    path: world.location,
    ledgers: [first, second],
    close: async () => {
      if (!closed) {
        closed = true;
        await world.close();
      }
    },
  };
  openedFiles.push(file);
  return file;
}

function reserveInput(requestId: string, atMs: number): ReserveInput {
  return {
    requestId,
    tenantId,
    keyId: 'key-shared',
    model: 'model-a',
    region: 'east',
    price,
    promptTokensEstimate: promptTokens,
    outputTokensMax,
    clampAllowed: false,
    atMs,
    instanceId: 'gateway',
  };
}

function settleInput(requestId: string, usage: Usage, atMs: number) {
  return {
    requestId,
    usage: {
      ...usage,
      cachedInputTokens: 0,
      reasoningTokens: undefined,
      source: 'provider' as const,
    },
    outcome: 'complete' as const,
    servedBy,
    price,
    atMs,
  };
}

type Usage = { inputTokens: number; outputTokens: number };

function costOf(usage: Usage): bigint {
  // Whole micro-units per token at these prices: no rounding to mirror.
  return BigInt(usage.inputTokens) + 2n * BigInt(usage.outputTokens);
}

/** The tenant's money still free, and what is held, as each connection sees it. */
async function moneyOf(ledger: Ledger) {
  const money = await ledger.tenantMoney(tenantId, 0);
  const couponsMicro = money.coupons.reduce((sum, coupon) => sum + coupon.remainingMicro, 0n);
  const overdrawn =
    money.walletBalanceMicro < 0n || money.coupons.some((coupon) => coupon.remainingMicro < 0n);
  return {
    freeMicro: money.walletBalanceMicro + couponsMicro,
    heldMicro: money.holdsMicro,
    overdrawn,
  };
}

async function fund(ledger: Ledger, totalMicro: bigint, couponMicro: bigint): Promise<void> {
  if (totalMicro - couponMicro > 0n) {
    await ledger.topUp({
      tenantId,
      amountMicro: totalMicro - couponMicro,
      reference: 'deposit',
      atMs: 0,
    });
  }
  await ledger.grantCoupon({
    id: 'voucher',
    tenantId,
    kind: 'compute',
    program: 'gov-compute',
    amountMicro: couponMicro,
    coverageBps: 10_000,
    models: null,
    regions: null,
    priority: 50,
    startsAtMs: 0,
    expiresAtMs: null,
    reference: 'voucher',
    atMs: 0,
  });
}

type Step = {
  connection: 0 | 1;
  action: 'reserve' | 'settle' | 'settle on both' | 'release';
  /** Launched together with the next step, so both land in the same turn of the event loop. */
  withNext: boolean;
  usage: Usage;
};

const steps = (actions: Step['action'][]) =>
  fc.array(
    fc.record({
      connection: fc.constantFrom<0 | 1>(0, 1),
      action: fc.constantFrom(...actions),
      withNext: fc.boolean(),
      usage: fc.record({
        inputTokens: fc.nat({ max: promptTokens }),
        outputTokens: fc.nat({ max: outputTokensMax }),
      }),
    }),
    { minLength: 1, maxLength: 60 },
  );

/** What a run of steps did: which requests were admitted, settled (at what cost) or released. */
type Outcome = {
  admitted: string[];
  refused: string[];
  costs: Map<string, bigint>;
  released: string[];
  /** Requests settled on both connections at once, and how many of those settles were duplicates. */
  settledTwice: number;
  duplicates: number;
};

/**
 * Runs the steps, a group at a time: a group is launched at once and awaited together. After each
 * group both connections must see no overdraft. The requests still open at the end are settled,
 * and every request not yet tried is tried, so all `requestCount` meet the money.
 */
async function runInterleaved(
  file: SharedFile,
  plan: Step[],
  requestCount: number,
  fullUsage: boolean,
): Promise<Outcome> {
  const outcome: Outcome = {
    admitted: [],
    refused: [],
    costs: new Map(),
    released: [],
    settledTwice: 0,
    duplicates: 0,
  };
  const open: string[] = [];
  let tried = 0;
  let clockMs = 1;
  const nextMs = () => {
    clockMs += 1;
    return clockMs;
  };

  const reserve = async (ledger: Ledger) => {
    if (tried >= requestCount) {
      return;
    }
    tried += 1;
    const requestId = `request-${String(tried).padStart(3, '0')}`;
    const result = await ledger.reserve(reserveInput(requestId, nextMs()));
    if (result.ok) {
      expect(result.reservedMicro).toBe(estimateMicro);
      outcome.admitted.push(requestId);
      open.push(requestId);
    } else {
      outcome.refused.push(requestId);
      await ledger.recordRejected(reserveInput(requestId, clockMs));
    }
  };
  const recordSettled = (requestId: string, usage: Usage, result: SettleResult) => {
    if (result.duplicate) {
      outcome.duplicates += 1;
      return;
    }
    expect(outcome.costs.has(requestId), `${requestId} settles once`).toBe(false);
    expect(result.costMicro).toBe(costOf(usage));
    outcome.costs.set(requestId, result.costMicro);
  };
  const settle = async (ledger: Ledger, requestId: string, usage: Usage) => {
    recordSettled(requestId, usage, await ledger.settle(settleInput(requestId, usage, nextMs())));
  };
  const full: Usage = { inputTokens: promptTokens, outputTokens: outputTokensMax };

  let group: Promise<void>[] = [];
  for (const step of plan) {
    const ledger = file.ledgers[step.connection];
    const usage = fullUsage ? full : step.usage;
    if (step.action === 'reserve') {
      group.push(reserve(ledger));
    } else {
      const requestId = open.shift();
      if (requestId !== undefined) {
        if (step.action === 'settle') {
          group.push(settle(ledger, requestId, usage));
        } else if (step.action === 'settle on both') {
          outcome.settledTwice += 1;
          group.push(settle(ledger, requestId, usage));
          group.push(settle(file.ledgers[step.connection === 0 ? 1 : 0], requestId, usage));
        } else {
          outcome.released.push(requestId);
          group.push(
            ledger.release({
              requestId,
              outcome: 'upstream_error',
              servedBy: undefined,
              atMs: nextMs(),
            }),
          );
        }
      }
    }
    if (!step.withNext) {
      await Promise.all(group);
      group = [];
      for (const each of file.ledgers) {
        expect((await moneyOf(each)).overdrawn, 'no overdraft, holds included').toBe(false);
      }
    }
  }
  await Promise.all(group);
  while (tried < requestCount) {
    await reserve(file.ledgers[tried % 2 === 0 ? 0 : 1]);
  }
  for (const [position, requestId] of open.splice(0).entries()) {
    await settle(file.ledgers[position % 2 === 0 ? 0 : 1], requestId, full);
  }
  return outcome;
}

/** Both connections agree the ledger is sound, nothing is held, and usage matches the outcome. */
async function expectSoundLedger(file: SharedFile, outcome: Outcome): Promise<void> {
  expect(outcome.duplicates, 'of two settles of one request, one is a duplicate').toBe(
    outcome.settledTwice,
  );
  for (const ledger of file.ledgers) {
    const checked = await ledger.check();
    expect(checked.problems).toEqual([]);
    const money = await moneyOf(ledger);
    expect(money.heldMicro, 'no hold is left once every request ended').toBe(0n);
    expect(money.overdrawn).toBe(false);
  }
  const records = await file.ledgers[0].usage(tenantId, everything);
  const charged = records.filter((record) => record.costMicro > 0n);
  expect(new Map(charged.map((record) => [record.requestId, record.costMicro]))).toEqual(
    new Map([...outcome.costs].filter(([, cost]) => cost > 0n)),
  );
  for (const record of records) {
    const paid = record.paidBy.reduce((sum, payer) => sum + payer.amountMicro, 0n);
    expect(paid, `${record.requestId} is paid exactly`).toBe(record.costMicro);
    expect(record.paidBy.some((payer) => payer.source === 'write_off')).toBe(false);
  }
  const refused = records
    .filter((record) => record.outcome === 'rejected')
    .map((record) => record.requestId);
  expect(refused.sort()).toEqual([...outcome.refused].sort());
}

describe.each(ledgerStores())('the $name ledger shared by two links', (store) => {
  beforeAll(() => store.setUp(inject('postgresAdminUrl')));
  afterAll(() => store.tearDown());

  it('admits exactly the K of N equal requests the money covers, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 24 }),
        fc.nat({ max: 24 }),
        fc.bigInt({ min: 0n, max: estimateMicro - 1n }),
        fc.nat({ max: 100 }),
        steps(['reserve', 'reserve', 'settle', 'settle on both']),
        async (requestCount, coveredCount, spareMicro, couponPercent, plan) => {
          const covered = Math.min(coveredCount, requestCount);
          const file = await openSharedFile(store);
          const moneyMicro = BigInt(covered) * estimateMicro + spareMicro;
          const couponMicro = (moneyMicro * BigInt(couponPercent)) / 100n;
          await fund(file.ledgers[0], moneyMicro, couponMicro);

          const outcome = await runInterleaved(file, plan, requestCount, true);

          expect(outcome.admitted.length).toBe(covered);
          expect(outcome.refused.length).toBe(requestCount - covered);
          expect([...outcome.costs.values()].every((cost) => cost === estimateMicro)).toBe(true);
          await expectSoundLedger(file, outcome);
          for (const ledger of file.ledgers) {
            expect((await moneyOf(ledger)).freeMicro).toBe(spareMicro);
          }
          await file.close();
        },
      ),
      { seed: 20_260_620, numRuns: 40 },
    );
  });

  it('charges exactly the admitted requests and never overdraws, with any usage up to the estimate', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 24 }),
        fc.bigInt({ min: 0n, max: 3_000n }),
        fc.nat({ max: 100 }),
        steps(['reserve', 'reserve', 'settle', 'settle on both', 'release']),
        async (requestCount, moneyMicro, couponPercent, plan) => {
          const file = await openSharedFile(store);
          const couponMicro = (moneyMicro * BigInt(couponPercent)) / 100n;
          await fund(file.ledgers[0], moneyMicro, couponMicro);

          const outcome = await runInterleaved(file, plan, requestCount, false);

          const spentMicro = [...outcome.costs.values()].reduce((sum, cost) => sum + cost, 0n);
          expect(outcome.costs.size + outcome.released.length).toBe(outcome.admitted.length);
          expect(spentMicro <= moneyMicro).toBe(true);
          await expectSoundLedger(file, outcome);
          for (const ledger of file.ledgers) {
            expect((await moneyOf(ledger)).freeMicro).toBe(moneyMicro - spentMicro);
          }
          await file.close();
        },
      ),
      { seed: 20_260_621, numRuns: 40 },
    );
  });

  /**
   * SQLite's busy handler makes the loser of each lock race wait, PostgreSQL's row locks the
   * loser of each tenant lock: real contention, no sleeps.
   */
  it('admits exactly K when two processes race for the same money', async () => {
    const file = await openSharedFile(store);
    const covered = 500;
    const perProcess = 400;
    await fund(file.ledgers[0], BigInt(covered) * estimateMicro + 150n, 20_000n);

    const racers = [
      startRacer(file.path, 'first', perProcess),
      startRacer(file.path, 'second', perProcess),
    ];
    // Both have compiled and opened the file before either starts: then they really contend.
    await Promise.all(racers.map((racer) => racer.ready));
    for (const racer of racers) {
      racer.go();
    }
    const [first = [], second = []] = await Promise.all(racers.map((racer) => racer.admitted));

    const admitted = [...first, ...second];
    expect(first.length > 0 && second.length > 0, 'both processes were admitted some').toBe(true);
    expect(new Set(admitted).size).toBe(admitted.length);
    expect(admitted.length).toBe(covered);
    const records = await file.ledgers[0].usage(tenantId, everything);
    const charged = records.filter((record) => record.outcome === 'complete');
    expect(charged.map((record) => record.requestId).sort()).toEqual([...admitted].sort());
    expect(charged.every((record) => record.costMicro === estimateMicro)).toBe(true);
    const checked = await file.ledgers[1].check();
    expect(checked.problems).toEqual([]);
    const money = await moneyOf(file.ledgers[1]);
    expect(money).toEqual({ freeMicro: 150n, heldMicro: 0n, overdrawn: false });
  }, 60_000);
});

type Racer = { ready: Promise<void>; go(): void; admitted: Promise<string[]> };

/**
 * A separate Node process that opens the shared store, says "ready", waits for "go" on its stdin,
 * then reserves and settles `count` requests eight at a time (on SQLite each batch one group
 * commit) and prints the ids it was admitted for. Two of them contend for SQLite's write lock,
 * or for the tenant's row lock on PostgreSQL.
 */
function startRacer(path: string, name: string, count: number): Racer {
  const script = `
    import { register } from 'tsx/esm/api';
    import { once } from 'node:events';
    register();
    const { openLedgerAt } = await import('./test/support/ledger-stores.ts');
    const opened = await openLedgerAt(process.env.RACE_PATH);
    const ledger = opened.ledger;
    const price = { priceId: 'price-1', inputPerMillion: 1000000n, cachedInputPerMillion: 0n,
      outputPerMillion: 2000000n, multiplierBps: 10000 };
    const admitted = [];
    const one = async (index) => {
      const requestId = process.env.RACE_NAME + '-' + index;
      const reserved = await ledger.reserve({ requestId, tenantId: '${tenantId}', keyId: 'key',
        model: 'model-a', region: 'east', price, promptTokensEstimate: ${promptTokens},
        outputTokensMax: ${outputTokensMax}, clampAllowed: false, atMs: index, instanceId: process.env.RACE_NAME });
      if (!reserved.ok) return;
      admitted.push(requestId);
      await ledger.settle({ requestId, usage: { inputTokens: ${promptTokens}, cachedInputTokens: 0,
        outputTokens: ${outputTokensMax}, reasoningTokens: undefined, source: 'provider' },
        outcome: 'complete', servedBy: ${JSON.stringify(servedBy)}, price, atMs: index });
    };
    process.stdout.write('ready\\n');
    await once(process.stdin, 'data');
    const count = Number(process.env.RACE_COUNT);
    for (let start = 0; start < count; start += 8) {
      await Promise.all(Array.from({ length: Math.min(8, count - start) }, (_, offset) => one(start + offset)));
    }
    await opened.close();
    process.stdout.write(JSON.stringify(admitted) + '\\n');
    process.exit(0);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: projectRoot,
    env: { ...process.env, RACE_PATH: path, RACE_NAME: name, RACE_COUNT: String(count) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let announceReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    announceReady = resolve;
  });
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.startsWith('ready\n')) {
      announceReady();
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const admitted = new Promise<string[]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stdout.trim().split('\n');
      if (code === 0 && lines[0] === 'ready' && lines[1] !== undefined) {
        resolve(JSON.parse(lines[1]) as string[]);
      } else {
        announceReady();
        reject(new Error(`racer ${name} exited with ${code}: ${stderr}`));
      }
    });
  });
  return { ready, go: () => child.stdin.end('go\n'), admitted };
}
