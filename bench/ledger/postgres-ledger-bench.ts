/**
 * Reserve+settle pairs per second on the PostgreSQL ledger (a private cluster started from the
 * installed binaries, loopback, as `npm run bench -- --store postgres` runs it), with the
 * production group commit against one transaction per operation, measured in the same run
 * (interleaved rounds, so machine drift cancels). One tenant with a 50% voucher, as in the
 * gateway bench: every pair goes through the coupon waterfall and the tenant's lock. Also the CPU
 * per pair of this process's main thread and of the PostgreSQL backends serving it, which other
 * load on the machine moves less than throughput. Prints a table; asserts nothing.
 *
 *   npm run bench:ledger:postgres [-- --seconds 5 --rounds 3 --concurrency 32]
 */
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { limitsSchema } from '../../src/config.ts';
import {
  migratePostgres,
  openPostgres,
} from '../../src/runtime/node/postgres/postgres-database.ts';
import { openPostgresLedger } from '../../src/runtime/node/postgres/postgres-ledger.ts';
import { createTestDatabase, startPostgresService } from '../../test/support/postgres-service.ts';
import { cpuMsOf, fundBenchTenant, pair, type Variant, variants } from './ledger-workload.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
  },
});
const measuredMs = Number(values.seconds) * 1000;
const roundCount = Number(values.rounds);
const concurrency = Number(values.concurrency);
const limits = limitsSchema.parse({});

async function setUp(adminUrl: string, groupCommit: boolean) {
  const database = await createTestDatabase(adminUrl);
  await migratePostgres(database.url, limits);
  const opened = openPostgres(database.url, limits);
  await opened.pool.query(`INSERT INTO tenants (id, name, home_region, allowed_regions,
      allow_max_tokens_clamp, created_at_ms) VALUES ('ten_bench', 'bench', NULL, NULL, false, 0)`);
  await opened.pool.query(`INSERT INTO providers (id, name, payout_bps, token_hash, created_at_ms)
      VALUES ('prv_bench', 'bench', 8000, 'hash', 0)`);
  const ledger = await openPostgresLedger(opened.pool, {
    retryCountMax: limits.ledgerConflictRetryCountMax,
    groupCommit,
  });
  await fundBenchTenant(ledger);
  return {
    ledger,
    pool: opened.pool,
    close: async () => {
      await opened.close();
      await database.drop();
    },
  };
}

/** The CPU so far of the server processes serving this database's connections. */
async function backendsCpuMs(pool: pg.Pool): Promise<number> {
  const backends = await pool.query(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
  );
  let total = 0;
  for (const row of backends.rows as { pid: number }[]) {
    try {
      total += cpuMsOf(`/proc/${row.pid}/stat`);
    } catch {
      // A backend that exited meanwhile: its CPU is no longer counted on either side.
    }
  }
  return total;
}

type Measurement = {
  pairsPerSecond: number;
  cpuUsPerPair: number;
  serverCpuUsPerPair: number;
  /** Reserves and settles per transaction: each transaction checks one connection out. */
  operationsPerTransaction: number;
};

async function measure(adminUrl: string, variant: Variant, round: number): Promise<Measurement> {
  const { ledger, pool, close } = await setUp(adminUrl, variant.groupCommit);
  let checkouts = 0;
  pool.on('acquire', () => {
    checkouts += 1;
  });
  const runFor = async (durationMs: number, prefix: string) => {
    let pairs = 0;
    const endAt = Date.now() + durationMs;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        for (let index = 0; Date.now() < endAt; index += 1) {
          await pair(ledger, `req_${prefix}_${worker}_${index}`);
          pairs += 1;
        }
      }),
    );
    return pairs;
  };
  // Warm-up: every connection of the pool opened and its statements prepared.
  await runFor(1000, `${round}_warm`);
  const serverStartMs = await backendsCpuMs(pool);
  const checkoutsBefore = checkouts;
  const cpuStartMs = cpuMsOf(`/proc/self/task/${process.pid}/stat`);
  const startedAt = process.hrtime.bigint();
  const pairs = await runFor(measuredMs, String(round));
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const transactions = checkouts - checkoutsBefore;
  const cpuUsPerPair =
    ((cpuMsOf(`/proc/self/task/${process.pid}/stat`) - cpuStartMs) * 1000) / pairs;
  const serverCpuUsPerPair = (((await backendsCpuMs(pool)) - serverStartMs) * 1000) / pairs;
  const check = await ledger.check();
  await close();
  if (!check.ok) {
    throw new Error(`ledger check failed: ${check.problems.join('; ')}`);
  }
  return {
    pairsPerSecond: pairs / seconds,
    cpuUsPerPair,
    serverCpuUsPerPair,
    operationsPerTransaction: (pairs * 2) / transactions,
  };
}

const service = await startPostgresService();
const results = new Map<string, Measurement[]>(variants.map((variant) => [variant.name, []]));
try {
  for (let round = 0; round < roundCount; round += 1) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      process.stderr.write(`round ${round + 1}/${roundCount}: ${variant.name} ... `);
      const measurement = await measure(service.adminUrl, variant, round);
      results.get(variant.name)?.push(measurement);
      process.stderr.write(
        `${Math.round(measurement.pairsPerSecond)} pairs/s, ${measurement.cpuUsPerPair.toFixed(0)} µs CPU/pair here, ${measurement.serverCpuUsPerPair.toFixed(0)} µs in PostgreSQL, ${measurement.operationsPerTransaction.toFixed(1)} operations per transaction\n`,
      );
    }
  }
} finally {
  await service.stop();
}

const median = (numbers: number[]) =>
  [...numbers].sort((left, right) => left - right)[Math.floor(numbers.length / 2)] ?? 0;
const medianOf = (name: string | undefined, pick: (measurement: Measurement) => number) =>
  median((results.get(name ?? '') ?? []).map(pick));
const baseline = medianOf(variants[0]?.name, (measurement) => measurement.pairsPerSecond);
console.log(
  `\nPostgreSQL ledger: reserve+settle pairs per second (${values.seconds} s each, concurrency ${concurrency}, median of ${roundCount})\n`,
);
console.log(
  '| variant | pairs/s | ratio to baseline | main-thread CPU µs per pair | PostgreSQL CPU µs per pair | operations per transaction |',
);
console.log('|---|---:|---:|---:|---:|---:|');
for (const variant of variants) {
  const value = medianOf(variant.name, (measurement) => measurement.pairsPerSecond);
  const cpuUs = medianOf(variant.name, (measurement) => measurement.cpuUsPerPair);
  const serverUs = medianOf(variant.name, (measurement) => measurement.serverCpuUsPerPair);
  const grouped = medianOf(variant.name, (measurement) => measurement.operationsPerTransaction);
  console.log(
    `| ${variant.name} | ${Math.round(value).toLocaleString('en')} | ${(value / baseline).toFixed(2)}x | ${cpuUs.toFixed(0)} | ${serverUs.toFixed(0)} | ${grouped.toFixed(1)} |`,
  );
}
