/**
 * Reserve+settle pairs per second on the SQLite ledger (file-backed, WAL, synchronous=NORMAL,
 * checkpoints on a worker thread as in production), with the production group commit against one
 * transaction per operation, measured in the same run (interleaved rounds, so machine drift
 * cancels). Also the main thread's own CPU time per pair, which other load on the machine barely
 * moves. Prints a table; asserts nothing.
 *
 *   npm run bench:ledger [-- --pairs 20000 --rounds 3 --concurrency 64]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { PinnedPrice } from '../../src/billing/cost.ts';
import type { Ledger } from '../../src/billing/ledger.ts';
import { limitsSchema } from '../../src/config.ts';
import { migrateSqlite, openSqlite } from '../../src/runtime/node/sqlite/sqlite-database.ts';
import { createSqliteLedger } from '../../src/runtime/node/sqlite/sqlite-ledger.ts';
import { startWalCheckpointer } from '../../src/runtime/node/sqlite/wal-checkpointer.ts';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
  },
});
const pairCount = Number(values.pairs);
const roundCount = Number(values.rounds);
const concurrency = Number(values.concurrency);

const price: PinnedPrice = {
  priceId: 'prc_bench',
  inputPerMillion: 2_000_000n,
  cachedInputPerMillion: 1_000_000n,
  outputPerMillion: 6_000_000n,
  multiplierBps: 10_000,
};

type Variant = { name: string; groupCommit: boolean };
const variants: Variant[] = [
  { name: 'one transaction per operation (baseline)', groupCommit: false },
  { name: 'group commit (production)', groupCommit: true },
];

async function setUp(groupCommit: boolean) {
  const directory = mkdtempSync(join(tmpdir(), 'tokenbank-ledger-bench-'));
  const opened = openSqlite(join(directory, 'ledger.db'));
  migrateSqlite(opened);
  const limits = limitsSchema.parse({});
  const checkpointer = startWalCheckpointer(
    opened.connection,
    {
      intervalMs: limits.sqliteCheckpointIntervalMs,
      writerAutocheckpointPages: limits.sqliteWriterAutocheckpointPages,
    },
    (message) => process.stderr.write(`checkpoint failed: ${message}\n`),
  );
  opened.connection.exec(`
    INSERT INTO tenants VALUES ('ten_bench', 'bench', NULL, NULL, 0, 0);
    INSERT INTO providers VALUES ('prv_bench', 'bench', 8000, 'hash', 0);`);
  const ledger = createSqliteLedger(opened.connection, { groupCommit });
  await ledger.topUp({
    tenantId: 'ten_bench',
    amountMicro: 9_000_000_000_000n,
    reference: 'bench',
    atMs: 0,
  });
  await ledger.grantCoupon({
    id: 'cpn_bench',
    tenantId: 'ten_bench',
    kind: 'compute',
    program: 'bench',
    amountMicro: 1_000_000_000_000n,
    coverageBps: 5000,
    models: null,
    regions: null,
    priority: 50,
    startsAtMs: 0,
    expiresAtMs: null,
    reference: 'bench-coupon',
    atMs: 0,
  });
  return {
    ledger,
    close: async () => {
      await checkpointer.stop();
      opened.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

async function pair(ledger: Ledger, requestId: string): Promise<void> {
  const reserved = await ledger.reserve({
    requestId,
    tenantId: 'ten_bench',
    keyId: 'key_bench',
    model: 'bench-model',
    region: 'east',
    price,
    promptTokensEstimate: 300,
    outputTokensMax: 256,
    clampAllowed: false,
    atMs: 1,
    instanceId: 'gw_bench',
  });
  if (!reserved.ok) {
    throw new Error('the bench tenant ran out of money');
  }
  await ledger.settle({
    requestId,
    usage: {
      inputTokens: 280,
      cachedInputTokens: 0,
      outputTokens: 120,
      reasoningTokens: undefined,
      source: 'provider',
    },
    outcome: 'complete',
    servedBy: { backendId: 'bkd_bench', providerId: 'prv_bench', region: 'east' },
    price,
    atMs: 2,
  });
}

/** CPU time of this process's main thread alone (the checkpoint worker is another thread). */
function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100;
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

type Measurement = { pairsPerSecond: number; cpuUsPerPair: number };

async function measure(variant: Variant, round: number): Promise<Measurement> {
  const { ledger, close } = await setUp(variant.groupCommit);
  let next = 0;
  const cpuStartMs = mainThreadCpuMs();
  const startedAt = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < pairCount) {
        next += 1;
        await pair(ledger, `req_${round}_${next}`);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const cpuUsPerPair = ((mainThreadCpuMs() - cpuStartMs) * 1000) / pairCount;
  const check = await ledger.check();
  await close();
  if (!check.ok) {
    throw new Error(`ledger check failed: ${check.problems.join('; ')}`);
  }
  return { pairsPerSecond: pairCount / seconds, cpuUsPerPair };
}

const results = new Map<string, Measurement[]>(variants.map((variant) => [variant.name, []]));
for (let round = 0; round < roundCount; round += 1) {
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  for (const variant of order) {
    process.stderr.write(`round ${round + 1}/${roundCount}: ${variant.name} ... `);
    const measurement = await measure(variant, round);
    results.get(variant.name)?.push(measurement);
    process.stderr.write(
      `${Math.round(measurement.pairsPerSecond)} pairs/s, ${measurement.cpuUsPerPair.toFixed(1)} µs CPU/pair\n`,
    );
  }
}

const median = (numbers: number[]) =>
  [...numbers].sort((left, right) => left - right)[Math.floor(numbers.length / 2)] ?? 0;
const medianOf = (name: string | undefined, pick: (measurement: Measurement) => number) =>
  median((results.get(name ?? '') ?? []).map(pick));
const baseline = medianOf(variants[0]?.name, (measurement) => measurement.pairsPerSecond);
console.log(
  `\nSQLite ledger: reserve+settle pairs per second (${pairCount} pairs, concurrency ${concurrency}, median of ${roundCount})\n`,
);
console.log('| variant | pairs/s | ratio to baseline | main-thread CPU µs per pair |');
console.log('|---|---:|---:|---:|');
for (const variant of variants) {
  const value = medianOf(variant.name, (measurement) => measurement.pairsPerSecond);
  const cpuUs = medianOf(variant.name, (measurement) => measurement.cpuUsPerPair);
  console.log(
    `| ${variant.name} | ${Math.round(value).toLocaleString('en')} | ${(value / baseline).toFixed(2)}x | ${cpuUs.toFixed(1)} |`,
  );
}
