/**
 * Turns the interleaved rounds into one number per server and column. Every added latency is
 * taken against the direct run of the same round, then the median across rounds is reported, so
 * a round in which the whole machine was slow moves both sides and cancels out.
 */
import type { TargetName } from './bench-options.ts';
import type { LoadResult } from './load-generator.ts';
import { median, percentileOfSorted } from './statistics.ts';

export type PhaseKind = 'throughput' | 'latency' | 'stream';

export type Measurement = {
  round: number;
  target: TargetName;
  kind: PhaseKind;
  result: LoadResult;
  /** Server CPU over the window (all its processes). */
  serverCpuUs: number;
  /**
   * CPU used over the window by processes that are not part of the bench (neither the bench, the
   * mock nor the server under test), as a share of one core: other work sharing the machine.
   */
  foreignCoreShare: number;
};

export type TargetSummary = {
  name: TargetName;
  requestsPerSecond: number;
  cpuUsPerRequest: number;
  latencyUsP50: number;
  latencyUsP99: number;
  addedLatencyUsP50: number;
  addedLatencyUsP99: number;
  firstChunkUsP50: number;
  firstChunkUsP99: number;
  addedFirstChunkUsP50: number;
  streamUsP50: number;
  errorCount: number;
  firstError: string | undefined;
};

type Statistic = (measurement: Measurement) => number;

const p50: (values: Float64Array) => number = (values) => percentileOfSorted(values, 0.5);
const p99: (values: Float64Array) => number = (values) => percentileOfSorted(values, 0.99);

function medianOf(measurements: readonly Measurement[], statistic: Statistic): number {
  return median(measurements.map(statistic));
}

/** Median across rounds of (target − direct) in the same round. */
function medianAdded(
  measurements: readonly Measurement[],
  direct: readonly Measurement[],
  statistic: Statistic,
): number {
  const added: number[] = [];
  for (const measurement of measurements) {
    const reference = direct.find((candidate) => candidate.round === measurement.round);
    if (reference !== undefined) {
      added.push(statistic(measurement) - statistic(reference));
    }
  }
  return median(added);
}

export function summarizeTarget(
  name: TargetName,
  measurements: readonly Measurement[],
): TargetSummary {
  const of = (target: TargetName, kind: PhaseKind) =>
    measurements.filter((entry) => entry.target === target && entry.kind === kind);
  const throughput = of(name, 'throughput');
  const latency = of(name, 'latency');
  const stream = of(name, 'stream');
  const own = measurements.filter((entry) => entry.target === name);
  const latencyP50: Statistic = (entry) => p50(entry.result.latenciesUs);
  const latencyP99: Statistic = (entry) => p99(entry.result.latenciesUs);
  const firstChunkP50: Statistic = (entry) => p50(entry.result.firstChunkUs);
  return {
    name,
    requestsPerSecond: medianOf(throughput, (entry) => entry.result.requestsPerSecond),
    cpuUsPerRequest: medianOf(throughput, (entry) =>
      entry.result.completedCount === 0
        ? Number.NaN
        : entry.serverCpuUs / entry.result.completedCount,
    ),
    latencyUsP50: medianOf(latency, latencyP50),
    latencyUsP99: medianOf(latency, latencyP99),
    addedLatencyUsP50: medianAdded(latency, of('direct', 'latency'), latencyP50),
    addedLatencyUsP99: medianAdded(latency, of('direct', 'latency'), latencyP99),
    firstChunkUsP50: medianOf(stream, firstChunkP50),
    firstChunkUsP99: medianOf(stream, (entry) => p99(entry.result.firstChunkUs)),
    addedFirstChunkUsP50: medianAdded(stream, of('direct', 'stream'), firstChunkP50),
    streamUsP50: medianOf(stream, latencyP50),
    errorCount: own.reduce((total, entry) => total + entry.result.errorCount, 0),
    firstError: own.find((entry) => entry.result.firstError !== undefined)?.result.firstError,
  };
}
