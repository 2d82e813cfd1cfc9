/**
 * Part 1: every server measured in the same run, round after round, in the same interleaved
 * order (reversed every other round), for throughput at fixed concurrency, latency at
 * concurrency 1 and streams at concurrency 1. Around each measured window it reads the CPU time
 * of the server under test, of the mock, of the bench itself and of the whole machine, so each
 * number comes with its server's own CPU and with how much foreign work shared the machine.
 */
import type { BenchPlan } from './bench-options.ts';
import type { RunningTarget } from './bench-servers.ts';
import type { TimeWindowUs } from './cpu-profile-summary.ts';
import { nowNs, runClosedLoop } from './load-generator.ts';
import { formatInteger } from './number-format.ts';
import { readMachineBusyCpuUs, readOwnCpuUs, readProcessesCpuUs } from './process-usage.ts';
import { progress } from './progress.ts';
import type { Measurement, PhaseKind } from './round-results.ts';
import { percentileOfSorted } from './statistics.ts';

type CpuReading = {
  /** The server under test's processes. */
  targetUs: number;
  /** Those and the mock. */
  experimentUs: number;
  benchUs: number;
  machineUs: number;
  atNs: number;
};

function readCpu(targetPids: readonly number[], experimentPids: readonly number[]): CpuReading {
  return {
    targetUs: readProcessesCpuUs(targetPids),
    experimentUs: readProcessesCpuUs(experimentPids),
    benchUs: readOwnCpuUs(),
    machineUs: readMachineBusyCpuUs(),
    atNs: nowNs(),
  };
}

type MeasureContext = {
  mockPid: number;
  plan: BenchPlan;
  /** tokenbank's throughput windows, for its CPU profile. */
  profileWindows: TimeWindowUs[];
};

async function measure(
  target: RunningTarget,
  kind: PhaseKind,
  round: number,
  context: MeasureContext,
): Promise<Measurement> {
  const { plan } = context;
  // The mock works for every server: it is part of the experiment, not foreign load.
  const experimentPids = [...new Set([context.mockPid, ...target.pids])];
  let atStart: CpuReading | undefined;
  let serverCpuUs = Number.NaN;
  let foreignCoreShare = Number.NaN;
  const result = await runClosedLoop(target.load, {
    concurrency: kind === 'throughput' ? plan.concurrency : 1,
    warmupMs: plan.warmupMs,
    durationMs: plan.windowMs,
    stream: kind === 'stream',
    onWindowStart: () => {
      atStart = readCpu(target.pids, experimentPids);
    },
    onWindowEnd: () => {
      const atEnd = readCpu(target.pids, experimentPids);
      if (atStart === undefined) {
        return;
      }
      serverCpuUs = atEnd.targetUs - atStart.targetUs;
      const windowUs = (atEnd.atNs - atStart.atNs) / 1000;
      const experimentUs =
        atEnd.experimentUs - atStart.experimentUs + (atEnd.benchUs - atStart.benchUs);
      const foreignUs = atEnd.machineUs - atStart.machineUs - experimentUs;
      foreignCoreShare = Math.max(0, foreignUs) / windowUs;
      if (target.name === 'tokenbank' && kind === 'throughput') {
        context.profileWindows.push({ startUs: atStart.atNs / 1000, endUs: atEnd.atNs / 1000 });
      }
    },
  });
  return { round, target: target.name, kind, result, serverCpuUs, foreignCoreShare };
}

function describe(measurement: Measurement): string {
  const { result, kind } = measurement;
  const errors =
    result.errorCount === 0 ? '' : `, ${result.errorCount} errors (${result.firstError})`;
  if (kind === 'throughput') {
    const cpuUs = measurement.serverCpuUs / result.completedCount;
    return `${formatInteger(result.requestsPerSecond)} req/s, ${formatInteger(cpuUs)} µs server CPU/req${errors}`;
  }
  const values = kind === 'latency' ? result.latenciesUs : result.firstChunkUs;
  const p50 = formatInteger(percentileOfSorted(values, 0.5));
  const p99 = formatInteger(percentileOfSorted(values, 0.99));
  const what = kind === 'latency' ? 'latency' : 'first chunk';
  return `${what} p50 ${p50} µs, p99 ${p99} µs (${formatInteger(values.length)} requests)${errors}`;
}

export async function runInterleavedRounds(
  targets: readonly RunningTarget[],
  context: MeasureContext,
): Promise<Measurement[]> {
  const { roundCount } = context.plan;
  const measurements: Measurement[] = [];
  const kinds: PhaseKind[] = ['throughput', 'latency', 'stream'];
  for (let round = 1; round <= roundCount; round += 1) {
    // A B C, then C B A: no server always goes first or last.
    const order = round % 2 === 1 ? targets : [...targets].reverse();
    for (const kind of kinds) {
      for (const target of order) {
        const measurement = await measure(target, kind, round, context);
        measurements.push(measurement);
        progress(
          `round ${round}/${roundCount} ${kind.padEnd(10)} ${target.name.padEnd(9)} ${describe(measurement)}`,
        );
      }
    }
  }
  return measurements;
}
