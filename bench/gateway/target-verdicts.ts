/**
 * The targets tokenbank is held to (issue 16) and the pass/miss of each against this run. A
 * target whose inputs were not measured (Portkey not installable, a part left out with --only)
 * reads "not measured" rather than passing by default. The throughput and latency limits also
 * show what the durable-ledger floor measured in the same run: the limit of durable money there.
 */
import type { LedgerThroughput } from './ledger-throughput.ts';
import { bytesPerMegabyte, formatInteger, formatMegabytes, formatRatio } from './number-format.ts';
import type { TargetSummary } from './round-results.ts';
import type { MemoryRound } from './slow-stream-memory.ts';

export const targetLimits = {
  requestsPerSecondFloorRatioMin: 0.5,
  requestsPerSecondPortkeyRatioMin: 10,
  addedLatencyUsP50Max: 300,
  addedLatencyUsP99Max: 1_000,
  addedFirstChunkUsP50Max: 300,
  rssBytesMax: 200 * bytesPerMegabyte,
  /** "No growth", allowing for allocator and heap noise between two readings. */
  rssGrowthBytesMax: 10 * bytesPerMegabyte,
  ledgerPairsPerSecondMin: 50_000,
} as const;

export type VerdictResult = 'pass' | 'miss' | 'not measured';
export type Verdict = { target: string; measured: string; limit: string; result: VerdictResult };

export type VerdictInputs = {
  tokenbank: TargetSummary | undefined;
  floor: TargetSummary | undefined;
  /** The durable-ledger floor. */
  durable: TargetSummary | undefined;
  portkey: TargetSummary | undefined;
  memoryRounds: readonly MemoryRound[] | undefined;
  streamCount: number;
  ledger: LedgerThroughput | undefined;
};

function judge(measured: number, passes: (value: number) => boolean): VerdictResult {
  return Number.isFinite(measured) ? (passes(measured) ? 'pass' : 'miss') : 'not measured';
}

/**
 * RSS growth once streams ended: last round's after-reading against the first round's; with one
 * round, against the reading before it.
 */
export function rssGrowthBytes(rounds: readonly MemoryRound[]): number {
  const first = rounds[0];
  const last = rounds.at(-1);
  if (first === undefined || last === undefined) {
    return Number.NaN;
  }
  return last.afterRssBytes - (rounds.length > 1 ? first.afterRssBytes : first.beforeRssBytes);
}

export function judgeTargets(inputs: VerdictInputs): Verdict[] {
  const limits = targetLimits;
  const tokenbank = inputs.tokenbank;
  const tokenbankRate = tokenbank?.requestsPerSecond ?? Number.NaN;
  const floorRate = inputs.floor?.requestsPerSecond ?? Number.NaN;
  const floorRatio = tokenbankRate / floorRate;
  const durable = inputs.durable;
  const durableRatioText = formatRatio(durable?.requestsPerSecond ?? Number.NaN, floorRate);
  const durableNote = (measured: string) =>
    durable === undefined ? '' : ` (durable-ledger floor: ${measured})`;
  const portkeyRatio = tokenbankRate / (inputs.portkey?.requestsPerSecond ?? Number.NaN);
  const added50 = tokenbank?.addedLatencyUsP50 ?? Number.NaN;
  const added99 = tokenbank?.addedLatencyUsP99 ?? Number.NaN;
  const addedFirstChunk = tokenbank?.addedFirstChunkUsP50 ?? Number.NaN;
  const rounds = inputs.memoryRounds ?? [];
  const allStreamsHeld = rounds.every(
    (round) => round.completedCount === inputs.streamCount && round.errorCount === 0,
  );
  const rssPeak =
    rounds.length === 0 || !allStreamsHeld
      ? Number.NaN
      : Math.max(...rounds.map((round) => round.peakRssBytes));
  const growth = allStreamsHeld ? rssGrowthBytes(rounds) : Number.NaN;
  // Streams that ended before the last one opened were never all held at once.
  const openAtOnceMin = Math.min(...rounds.map((round) => round.openCountMax));
  const heldNote =
    rounds.length > 0 && openAtOnceMin < inputs.streamCount
      ? ` (only ${formatInteger(openAtOnceMin)} open at once)`
      : '';
  const ledgerRate = inputs.ledger?.ok === true ? inputs.ledger.pairsPerSecond : Number.NaN;
  const streams = formatInteger(inputs.streamCount);
  return [
    {
      target: 'tokenbank req/s vs floor (c=32)',
      measured: formatRatio(floorRatio, 1),
      limit: `≥ ${limits.requestsPerSecondFloorRatioMin}×${durableNote(durableRatioText)}`,
      result: judge(floorRatio, (value) => value >= limits.requestsPerSecondFloorRatioMin),
    },
    {
      target: 'tokenbank req/s vs Portkey (c=32)',
      measured: formatRatio(portkeyRatio, 1),
      limit: `≥ ${limits.requestsPerSecondPortkeyRatioMin}×`,
      result: judge(portkeyRatio, (value) => value >= limits.requestsPerSecondPortkeyRatioMin),
    },
    {
      target: 'added latency p50 (c=1)',
      measured: `${formatInteger(added50)} µs`,
      limit: `≤ ${formatInteger(limits.addedLatencyUsP50Max)} µs${durableNote(`${formatInteger(durable?.addedLatencyUsP50 ?? Number.NaN)} µs`)}`,
      result: judge(added50, (value) => value <= limits.addedLatencyUsP50Max),
    },
    {
      target: 'added latency p99 (c=1)',
      measured: `${formatInteger(added99)} µs`,
      limit: `≤ ${formatInteger(limits.addedLatencyUsP99Max)} µs${durableNote(`${formatInteger(durable?.addedLatencyUsP99 ?? Number.NaN)} µs`)}`,
      result: judge(added99, (value) => value <= limits.addedLatencyUsP99Max),
    },
    {
      target: 'streaming time to first chunk added (p50, c=1)',
      measured: `${formatInteger(addedFirstChunk)} µs`,
      limit: `≤ ${formatInteger(limits.addedFirstChunkUsP50Max)} µs`,
      result: judge(addedFirstChunk, (value) => value <= limits.addedFirstChunkUsP50Max),
    },
    {
      target: `RSS peak holding ${streams} streams`,
      measured: `${formatMegabytes(rssPeak)}${heldNote}`,
      limit: `≤ ${formatMegabytes(limits.rssBytesMax)}`,
      result: judge(rssPeak, (value) => value <= limits.rssBytesMax),
    },
    {
      target: `RSS growth after the streams end (${rounds.length} rounds)`,
      measured: formatMegabytes(growth),
      limit: `≤ ${formatMegabytes(limits.rssGrowthBytesMax)}`,
      result: judge(growth, (value) => value <= limits.rssGrowthBytesMax),
    },
    {
      target: 'ledger reserve+settle pairs/s',
      measured: formatInteger(ledgerRate),
      limit: `≥ ${formatInteger(limits.ledgerPairsPerSecondMin)}`,
      result: judge(ledgerRate, (value) => value >= limits.ledgerPairsPerSecondMin),
    },
  ];
}
