/**
 * The lines above the report's tables: the command, the machine, how much other work shared it,
 * and how each part was run (durations, concurrency, tokenbank's configuration, Portkey's
 * patches), so a table pasted into docs/BENCHMARKS.md still says what it measured.
 */
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import type { BenchPlan, TargetName } from './bench-options.ts';
import { formatInteger } from './number-format.ts';
import { portkeyVersion } from './portkey-install.ts';
import { benchStartedAtMs } from './progress.ts';
import type { Measurement } from './round-results.ts';
import { median } from './statistics.ts';
import type { TokenbankDeployment } from './tokenbank-gateway.ts';

export const serverLabels: Record<TargetName, string> = {
  direct: 'direct to the mock',
  floor: 'floor (bare Hono + undici proxy)',
  durable: 'durable-ledger floor (floor + balance check + 2 group-committed SQLite rows)',
  tokenbank: 'tokenbank (everything on)',
  portkey: `Portkey ${portkeyVersion}`,
};

const loadAverageAtStart = loadavg();

function formatLoadAverage(values: readonly number[]): string {
  return values.map((value) => value.toFixed(2)).join(' ');
}

function commandLine(argv: readonly string[]): string {
  if (process.env.npm_lifecycle_event === 'bench') {
    return `npm run bench${argv.length === 0 ? '' : ` -- ${argv.join(' ')}`}`;
  }
  return `node --import tsx bench/gateway/gateway-bench.ts ${argv.join(' ')}`.trim();
}

function machineLine(): string {
  const processors = cpus();
  const memory = `${(totalmem() / 1e9).toFixed(1)} GB RAM`;
  const load = `load average ${formatLoadAverage(loadAverageAtStart)} at the start, ${formatLoadAverage(loadavg())} at the end`;
  return `machine: node ${process.version}, ${processors.length} × ${processors[0]?.model ?? 'unknown CPU'}, ${platform()} ${release()}, ${memory}; ${load}; run ${new Date(benchStartedAtMs).toISOString()}`;
}

/** How much other work shared the machine while the numbers were taken. */
function foreignLoadLine(measurements: readonly Measurement[]): string[] {
  const shares = measurements.map((entry) => entry.foreignCoreShare).filter(Number.isFinite);
  if (shares.length === 0) {
    return [];
  }
  const percent = (share: number) => `${(share * 100).toFixed(0)}%`;
  return [
    `other load: processes outside the bench used a median ${percent(median(shares))} of one core (max ${percent(Math.max(...shares))}) during the measured windows; other work moves every number (req/s and latency tails most), so compare runs taken with little of it`,
  ];
}

function partOneLines(plan: BenchPlan, measurements: readonly Measurement[]): string[] {
  if (plan.targets.length === 0) {
    return [];
  }
  return [
    `part 1: ${plan.roundCount} interleaved round(s), order reversed every other round; each phase ${plan.warmupMs} ms warm-up + ${formatInteger(plan.windowMs)} ms measured; throughput at c=${plan.concurrency}, latency and streams at c=1 (one request after another); medians across rounds; added = server − direct in the same round`,
    'every server is its own process on 127.0.0.1; server CPU is its utime+stime from /proc/<pid>/stat over the window (the load generator runs in the bench process and is not counted); a stream counts only when it ends with [DONE]',
    ...foreignLoadLine(measurements),
  ];
}

function tokenbankLine(plan: BenchPlan, tokenbank: TokenbankDeployment | undefined): string[] {
  if (tokenbank === undefined) {
    return [];
  }
  const store = plan.store === 'sqlite' ? 'sqlite (a fresh temp file)' : plan.store;
  const replicas =
    plan.replicaCount > 1
      ? `${plan.replicaCount} replicas on one store (requests round-robin, CPU summed)`
      : '1 process';
  return [
    `tokenbank: \`node bin/tokenbank.mjs serve\`, store ${store}, ${replicas}; log level info (a JSON line per request, to a file); TOKENBANK_LIMITS ${JSON.stringify(tokenbank.limits)}; the tenant has 100,000,000.00 prepaid and a 50% voucher, so each request is authenticated, reserved, routed, relayed, tapped and settled through the coupon waterfall`,
  ];
}

export function contextLines(
  plan: BenchPlan,
  argv: readonly string[],
  tokenbank: TokenbankDeployment | undefined,
  measurements: readonly Measurement[],
): string[] {
  const lines = [
    `command: \`${commandLine(argv)}\``,
    machineLine(),
    ...partOneLines(plan, measurements),
    ...tokenbankLine(plan, tokenbank),
  ];
  if (plan.targets.includes('portkey')) {
    lines.push(
      `Portkey: @portkey-ai/gateway@${portkeyVersion} from npm in a temp cache folder, NODE_ENV=production, --headless, x-portkey-provider openai with the mock as custom host; patched at start to listen on 127.0.0.1 and to give streamed fetch responses mutable headers (its Node streaming bug, issues #1389/#1550)`,
    );
  }
  if (plan.memory) {
    lines.push(
      `memory: ${formatInteger(plan.streamCount)} streams at once through tokenbank, each ${plan.slowChunkCount} chunks ${plan.slowChunkIntervalMs} ms apart, ${plan.memoryRoundCount} round(s); RSS is VmRSS of the tokenbank process (the largest one with replicas), read ${formatInteger(plan.memorySettleMs)} ms after they ended`,
    );
  }
  return lines;
}
