/**
 * The command line of `npm run bench` and the run plan it implies. Every duration and count of
 * the bench is set here, once, from two presets (full and --quick) and a few overrides, so the
 * printed header can say exactly what was run.
 */
import { parseArgs } from 'node:util';
import type { StoreKind } from './tokenbank-gateway.ts';

export const targetNames = ['direct', 'floor', 'durable', 'tokenbank', 'portkey'] as const;
/** Measured with any server: the references for added latency and for the ratios. */
const referenceNames: readonly TargetName[] = ['direct', 'floor', 'durable'];
export type TargetName = (typeof targetNames)[number];
const partNames = ['memory', 'ledger'] as const;
type PartName = (typeof partNames)[number];

export type BenchPlan = {
  quick: boolean;
  /** Part 1 servers, in measuring order; direct, floor and durable are always in as references. */
  targets: TargetName[];
  memory: boolean;
  ledger: boolean;
  store: StoreKind;
  replicaCount: number;
  /** Run tokenbank under `node --cpu-prof` and print where its CPU went under load. */
  profile: boolean;
  /** Where tokenbank writes a heap snapshot after each memory round's forced collection. */
  heapSnapshotDirectory: string | undefined;
  roundCount: number;
  /** Requests in flight during the throughput phase. */
  concurrency: number;
  warmupMs: number;
  windowMs: number;
  streamCount: number;
  memoryRoundCount: number;
  slowChunkCount: number;
  slowChunkIntervalMs: number;
  memorySettleMs: number;
  ledgerPairCount: number;
  ledgerRoundCount: number;
};

const usage = `Usage: npm run bench -- [--quick] [--only NAMES] [--store sqlite|postgres] [--replicas N]
                        [--rounds N] [--concurrency N] [--profile] [--heap-snapshots DIR]

  --quick          one short round of everything (a smoke run, under a minute)
  --only NAMES     comma-separated: direct, floor, durable, tokenbank, portkey, memory, ledger
                   (direct, floor and durable, the durable-ledger floor, are always measured
                   with any of the servers: they are the references for added latency, for
                   the ratios and for what durable money costs)
  --store KIND     sqlite (a fresh temp file, default) or postgres (TOKENBANK_BENCH_POSTGRES_URL,
                   else a private cluster from the installed binaries; with a private Redis)
  --replicas N     N tokenbank processes on one store; the client spreads requests over them
                   and their CPU is summed
  --rounds N       interleaved rounds of part 1 (default 4, quick 1)
  --concurrency N  requests in flight in the throughput phase (default 32)
  --profile        run tokenbank under node --cpu-prof and print its top self-time functions
                   during the throughput windows (tokenbank's own numbers then include the
                   profiler's overhead)
  --heap-snapshots DIR
                   after each memory round's forced collection, tokenbank also writes a V8
                   heap snapshot into DIR (diff two in Chrome's memory tool to see what is kept)
`;

export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
  readonly usage = usage;
}

function positiveInteger(text: string | undefined, name: string, maximum: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > maximum) {
    throw new BenchUsageError(`${name} must be a whole number from 1 to ${maximum}`);
  }
  return value;
}

function selectedNames(text: string | undefined): Set<TargetName | PartName> {
  const known: readonly string[] = [...targetNames, ...partNames];
  if (text === undefined) {
    return new Set([...targetNames, ...partNames]);
  }
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !known.includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new BenchUsageError(`--only takes names from ${known.join(', ')}; got '${text}'`);
  }
  return new Set(names as (TargetName | PartName)[]);
}

export function parseBenchOptions(argv: string[]): BenchPlan {
  let values: {
    quick?: boolean;
    only?: string;
    store?: string;
    replicas?: string;
    rounds?: string;
    concurrency?: string;
    profile?: boolean;
    'heap-snapshots'?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        quick: { type: 'boolean' },
        only: { type: 'string' },
        store: { type: 'string' },
        replicas: { type: 'string' },
        rounds: { type: 'string' },
        concurrency: { type: 'string' },
        profile: { type: 'boolean' },
        'heap-snapshots': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new BenchUsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) {
    throw new BenchUsageError('');
  }
  const store = values.store ?? 'sqlite';
  if (store !== 'sqlite' && store !== 'postgres') {
    throw new BenchUsageError(`--store is sqlite or postgres, not '${store}'`);
  }
  const quick = values.quick === true;
  const selected = selectedNames(values.only);
  const servers = targetNames.filter((name) => selected.has(name));
  const targets: TargetName[] =
    servers.length === 0
      ? []
      : targetNames.filter((name) => referenceNames.includes(name) || selected.has(name));
  return {
    quick,
    targets,
    memory: selected.has('memory'),
    ledger: selected.has('ledger'),
    store,
    replicaCount:
      values.replicas === undefined ? 1 : positiveInteger(values.replicas, '--replicas', 16),
    profile: values.profile === true,
    heapSnapshotDirectory: values['heap-snapshots'],
    roundCount:
      values.rounds === undefined
        ? quick
          ? 1
          : 4
        : positiveInteger(values.rounds, '--rounds', 50),
    concurrency:
      values.concurrency === undefined
        ? 32
        : positiveInteger(values.concurrency, '--concurrency', 4096),
    warmupMs: quick ? 200 : 300,
    windowMs: quick ? 700 : 2_000,
    streamCount: 1_000,
    memoryRoundCount: quick ? 1 : 3,
    slowChunkCount: quick ? 20 : 30,
    slowChunkIntervalMs: 200,
    memorySettleMs: quick ? 1_000 : 2_000,
    ledgerPairCount: quick ? 5_000 : 10_000,
    ledgerRoundCount: quick ? 1 : 3,
  };
}
