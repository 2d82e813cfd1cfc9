/**
 * `npm run bench`: the gateway benchmark (issue 5). On loopback it starts a mock upstream, the
 * floor proxy, tokenbank (the real CLI, everything on) and Portkey's open-source gateway, each in
 * its own process, and measures them in the same run, interleaved round by round so machine
 * drift cancels: requests per second at fixed concurrency, server CPU per request, added latency
 * at concurrency 1 and the streaming time to first chunk, each also as a ratio to the floor.
 * Part 2 holds 1,000 slow streams through tokenbank for its memory, and runs the ledger bench.
 * Progress goes to stderr; the markdown report, with pass/miss per target, to stdout.
 *
 *   npm run bench [-- --quick] [-- --only tokenbank,portkey] [-- --replicas 2] [-- --profile]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchPlan, BenchUsageError, parseBenchOptions } from './bench-options.ts';
import { type BenchServers, startBenchServers, stopAll, tokenbankTarget } from './bench-servers.ts';
import type { TimeWindowUs } from './cpu-profile-summary.ts';
import { runInterleavedRounds } from './interleaved-rounds.ts';
import { type LedgerThroughput, measureLedgerThroughput } from './ledger-throughput.ts';
import { formatInteger } from './number-format.ts';
import { processUsageReadable } from './process-usage.ts';
import { renderProfileReport } from './profile-report.ts';
import { benchStartedAtMs, progress } from './progress.ts';
import { contextLines, serverLabels } from './report-context.ts';
import { renderReport } from './results-table.ts';
import { type Measurement, summarizeTarget } from './round-results.ts';
import { type MemoryRound, measureSlowStreamMemory } from './slow-stream-memory.ts';
import { judgeTargets } from './target-verdicts.ts';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

type RunResults = {
  servers: BenchServers | undefined;
  measurements: Measurement[];
  profileWindows: TimeWindowUs[];
  memoryRounds: MemoryRound[] | undefined;
  ledger: LedgerThroughput | undefined;
};

/** Part 1, then the memory part while tokenbank still runs, then the ledger alone. */
async function runParts(
  plan: BenchPlan,
  workDirectory: string,
  profileDirectory: string | undefined,
): Promise<RunResults> {
  const results: RunResults = {
    servers: undefined,
    measurements: [],
    profileWindows: [],
    memoryRounds: undefined,
    ledger: undefined,
  };
  if (plan.targets.length > 0 || plan.memory) {
    const servers = await startBenchServers(plan, workDirectory, profileDirectory);
    results.servers = servers;
    if (servers.targets.length > 0) {
      progress(`part 1: ${servers.targets.map((target) => target.name).join(', ')}`);
      results.measurements = await runInterleavedRounds(servers.targets, {
        mockPid: servers.mockPid,
        plan,
        profileWindows: results.profileWindows,
      });
    }
    // The memory part gets the machine to itself, bar the mock and tokenbank.
    for (const target of servers.targets) {
      if (target.name !== 'tokenbank') {
        await target.stop();
      }
    }
    if (plan.memory && servers.tokenbank !== undefined) {
      progress(`part 2: ${formatInteger(plan.streamCount)} slow streams at once through tokenbank`);
      results.memoryRounds = await measureSlowStreamMemory({
        target: tokenbankTarget(servers.tokenbank, servers.tokenbank.slowModel).load,
        pids: servers.tokenbank.servers.map((server) => server.pid),
        streamCount: plan.streamCount,
        roundCount: plan.memoryRoundCount,
        settleMs: plan.memorySettleMs,
        heapUsedAfterCollection: servers.tokenbank.heapUsedAfterCollection,
        onProgress: progress,
      });
    }
    // Stopping tokenbank also makes it write its CPU profile.
    await stopAll();
  }
  if (plan.ledger) {
    progress('part 2: ledger reserve+settle pairs/s (bench/ledger/ledger-bench.ts)');
    const ledger = await measureLedgerThroughput(plan.ledgerPairCount, plan.ledgerRoundCount);
    results.ledger = ledger;
    progress(
      ledger.ok
        ? `ledger: ${formatInteger(ledger.pairsPerSecond)} pairs/s`
        : `ledger: ${ledger.reason}`,
    );
  }
  return results;
}

function report(plan: BenchPlan, argv: readonly string[], results: RunResults): string {
  const { measurements, servers } = results;
  const summaries = new Map(
    (servers?.targets ?? []).map((target) => [
      target.name,
      summarizeTarget(target.name, measurements),
    ]),
  );
  const notes: string[] = [];
  if (plan.quick) {
    notes.push('--quick: one short round; a smoke run, not numbers to quote.');
  }
  if (plan.profile) {
    notes.push('--profile: tokenbank ran under node --cpu-prof; its numbers include the profiler.');
  }
  return renderReport({
    title: 'Gateway benchmark',
    context: contextLines(plan, argv, servers?.tokenbank, measurements),
    servers: plan.targets.map((name) => ({
      name,
      label: serverLabels[name],
      summary: summaries.get(name),
      unavailableReason: servers?.unavailable.get(name),
    })),
    concurrency: plan.concurrency,
    memoryRounds: results.memoryRounds,
    tokenbankStartRssBytes: servers?.tokenbank?.startRssBytes,
    streamCount: plan.streamCount,
    ledger: results.ledger,
    verdicts: judgeTargets({
      tokenbank: summaries.get('tokenbank'),
      floor: summaries.get('floor'),
      durable: summaries.get('durable'),
      portkey: summaries.get('portkey'),
      memoryRounds: results.memoryRounds,
      streamCount: plan.streamCount,
      ledger: results.ledger,
    }),
    notes,
  });
}

let workFolderNote = '';

async function main(argv: string[]): Promise<number> {
  let plan: BenchPlan;
  try {
    plan = parseBenchOptions(argv);
  } catch (error) {
    if (error instanceof BenchUsageError) {
      if (error.message === '') {
        process.stdout.write(error.usage);
        return 0;
      }
      process.stderr.write(`${error.message}\n\n${error.usage}`);
      return 2;
    }
    throw error;
  }
  if (!processUsageReadable()) {
    process.stderr.write('bench: needs Linux /proc to read server CPU and memory\n');
    return 1;
  }
  const workDirectory = mkdtempSync(join(tmpdir(), 'tokenbank-gateway-bench-'));
  workFolderNote = `\n(server logs are kept in ${workDirectory})`;
  progress(`bench: work folder ${workDirectory}`);
  const profileDirectory = plan.profile ? join(workDirectory, 'profiles') : undefined;
  const results = await runParts(plan, workDirectory, profileDirectory);
  process.stdout.write(report(plan, argv, results));
  if (profileDirectory !== undefined) {
    const requestCount = results.measurements
      .filter((entry) => entry.target === 'tokenbank' && entry.kind === 'throughput')
      .reduce((total, entry) => total + entry.result.completedCount, 0);
    const profile = renderProfileReport(
      profileDirectory,
      results.profileWindows,
      requestCount,
      projectRoot,
    );
    process.stdout.write(`\n${profile}\n`);
  }
  rmSync(workDirectory, { recursive: true, force: true });
  progress(`bench: done in ${((Date.now() - benchStartedAtMs) / 1000).toFixed(0)} s`);
  return 0;
}

// Ctrl-C: exiting runs child-server's exit hook, which kills every server still running.
process.once('SIGINT', () => process.exit(130));
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  async (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`bench failed: ${message}${workFolderNote}\n`);
    await stopAll();
    process.exitCode = 1;
  },
);
