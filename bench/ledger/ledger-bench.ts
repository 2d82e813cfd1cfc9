/**
 * Reserve+settle pairs per second on the SQLite ledger (file-backed, WAL, synchronous=NORMAL,
 * checkpoints on a worker thread as in production), with the production group commit against one
 * transaction per operation, measured in the same run (interleaved rounds, so machine drift
 * cancels). Also the main thread's own CPU time per pair, which other load on the machine barely
 * moves. Prints a table; asserts nothing.
 *
 *   npm run bench:ledger [-- --pairs 20000 --rounds 3 --concurrency 64 --drop-index NAME]
 *
 * `--drop-index` drops one index of the schema before the rounds: two runs, with and without
 * it, tell what the index costs each pair.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { limitsSchema } from '../../src/config.ts';
import { migrateSqlite, openSqlite } from '../../src/runtime/node/sqlite/sqlite-database.ts';
import { createSqliteLedger } from '../../src/runtime/node/sqlite/sqlite-ledger.ts';
import { startWalCheckpointer } from '../../src/runtime/node/sqlite/wal-checkpointer.ts';
import { cpuMsOf, fundBenchTenant, pair, type Variant, variants } from './ledger-workload.ts';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
    'drop-index': { type: 'string' },
  },
});
const pairCount = Number(values.pairs);
const roundCount = Number(values.rounds);
const concurrency = Number(values.concurrency);

async function setUp(groupCommit: boolean) {
  const directory = mkdtempSync(join(tmpdir(), 'tokenbank-ledger-bench-'));
  const opened = openSqlite(join(directory, 'ledger.db'));
  migrateSqlite(opened);
  const droppedIndex = values['drop-index'];
  if (droppedIndex !== undefined) {
    opened.connection.prepare(`DROP INDEX ${JSON.stringify(droppedIndex)}`).run();
  }
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
    INSERT INTO tenants (id, name, home_region, allowed_regions, allow_max_tokens_clamp, created_at_ms)
      VALUES ('ten_bench', 'bench', NULL, NULL, 0, 0);
    INSERT INTO providers (id, name, payout_bps, token_hash, created_at_ms)
      VALUES ('prv_bench', 'bench', 8000, 'hash', 0);`);
  const ledger = createSqliteLedger(opened.connection, { groupCommit });
  await fundBenchTenant(ledger);
  return {
    ledger,
    close: async () => {
      await checkpointer.stop();
      opened.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** CPU time of this process's main thread alone (the checkpoint worker is another thread). */
function mainThreadCpuMs(): number {
  return cpuMsOf(`/proc/self/task/${process.pid}/stat`);
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
  `\nSQLite ledger: reserve+settle pairs per second (${pairCount} pairs, concurrency ${concurrency}, median of ${roundCount}${values['drop-index'] === undefined ? '' : `, without index ${values['drop-index']}`})\n`,
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
