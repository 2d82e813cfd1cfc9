/**
 * The cross-cycle batch benchmark (issue 13): for each seed, the compressed day without a batch,
 * then with each scenario's backlog on the same interactive trace; then two tables of means over
 * seeds (95% confidence half-width after ±): what became of the batch (done in its window, run
 * off-peak, where, what it cost against the same lines at the price when they were submitted),
 * and what it did to interactive first-token times (p99 with the batch as a ratio to p99 without,
 * the target being at most 1.10). Asserts nothing.
 *
 *   npm run bench:batch [-- --seeds 10 --scenario reserve]
 */
import { parseArgs } from 'node:util';
import { formatMoney } from '../../src/billing/money.ts';
import { type BatchScenario, batchScenarios, day, tariffs } from './batch-scenarios.ts';
import { type BatchRun, type InteractiveTimes, runBatchSimulation } from './batch-simulation.ts';
import type { BatchTally } from './simulated-batch-scheduler.ts';
import { type Estimate, estimate, percentile } from './statistics.ts';
import { listMultiplierBps, TariffBook } from './tariff-book.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '10' },
    scenario: { type: 'string', default: '' },
  },
});
const seedCount = Number(values.seeds);
const selected = batchScenarios().filter((scenario) => scenario.name.includes(values.scenario));
const ttftTargetRatio = 1.1;
const hourMs = 3_600_000;

type BatchOutcome = {
  doneInWindowShare: number;
  expiredShare: number;
  offpeakShare: number;
  regionShares: Map<string, number>;
  lastEndedHours: number;
  costMicro: bigint;
  atSubmissionMicro: bigint;
};

type InteractiveOutcome = {
  p50Ms: number;
  p99Ms: number;
  baseP50Ms: number;
  baseP99Ms: number;
  p99WhileRunningMs: number;
  baseP99WhileRunningMs: number;
  shedOrTimeoutShare: number;
};

type SeedOutcome = { batch: BatchOutcome; interactive: InteractiveOutcome };

const book = new TariffBook(tariffs);

function batchOutcome(tally: BatchTally): BatchOutcome {
  const succeeded = tally.endings.filter((ending) => ending.outcome === 'ok');
  const regionShares = new Map<string, number>();
  let costMicro = 0n;
  let atSubmissionMicro = 0n;
  for (const ending of succeeded) {
    regionShares.set(ending.region, (regionShares.get(ending.region) ?? 0) + 1 / succeeded.length);
    costMicro += book.costMicro(ending.region, ending.line, ending.multiplierBps);
    const submitted = book.priceAt(ending.region, day.submittedAtMs)?.multiplierBps;
    atSubmissionMicro += book.costMicro(ending.region, ending.line, submitted ?? listMultiplierBps);
  }
  const lastEndedMs = Math.max(0, ...tally.endings.map((ending) => ending.endedAtMs));
  return {
    doneInWindowShare:
      succeeded.filter((ending) => ending.endedAtMs <= day.simulatedMs).length / tally.lineCount,
    expiredShare: tally.expiredCount / tally.lineCount,
    offpeakShare:
      tally.endings.filter((ending) => ending.multiplierBps < listMultiplierBps).length /
      Math.max(1, tally.endings.length),
    regionShares,
    lastEndedHours: (lastEndedMs * day.compression) / hourMs,
    costMicro,
    atSubmissionMicro,
  };
}

function firstTokens(times: readonly InteractiveTimes[], intervals?: readonly [number, number][]) {
  const inside = (arrivalMs: number) =>
    intervals === undefined ||
    intervals.some(([fromMs, untilMs]) => arrivalMs >= fromMs && arrivalMs < untilMs);
  return times.filter((time) => inside(time.arrivalMs)).map((time) => time.firstTokenMs);
}

function interactiveOutcome(run: BatchRun, base: BatchRun): InteractiveOutcome {
  const busy = run.batch?.busyIntervals ?? [];
  const withBatch = firstTokens(run.interactive);
  const without = firstTokens(base.interactive);
  const { summary } = run;
  return {
    p50Ms: percentile(withBatch, 0.5),
    p99Ms: percentile(withBatch, 0.99),
    baseP50Ms: percentile(without, 0.5),
    baseP99Ms: percentile(without, 0.99),
    p99WhileRunningMs: percentile(firstTokens(run.interactive, busy), 0.99),
    baseP99WhileRunningMs: percentile(firstTokens(base.interactive, busy), 0.99),
    shedOrTimeoutShare: summary.shedRate + summary.timeoutRate + summary.serverErrorRate,
  };
}

function runAll(): Map<string, SeedOutcome[]> {
  const outcomes = new Map<string, SeedOutcome[]>(selected.map((scenario) => [scenario.name, []]));
  const runCount = seedCount * (selected.length + 1);
  let done = 0;
  const timed = <T>(label: string, run: () => T): T => {
    const startedMs = performance.now();
    const result = run();
    done += 1;
    const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
    process.stderr.write(`  ${done}/${runCount} ${label} (${seconds} s)\n`);
    return result;
  };
  for (let seed = 1; seed <= seedCount; seed += 1) {
    const base = timed(`seed ${seed}, no batch`, () => runBatchSimulation(undefined, seed));
    for (const scenario of selected) {
      const run = timed(`seed ${seed}, ${scenario.name}`, () => runBatchSimulation(scenario, seed));
      if (run.batch !== undefined) {
        outcomes.get(scenario.name)?.push({
          batch: batchOutcome(run.batch),
          interactive: interactiveOutcome(run, base),
        });
      }
    }
  }
  return outcomes;
}

const plusMinus = (value: Estimate, digits: number, scale = 1) =>
  Number.isNaN(value.mean)
    ? 'n/a'
    : `${(value.mean * scale).toFixed(digits)} ±${((value.halfWidth || 0) * scale).toFixed(digits)}`;

/** Cells of one scenario's row: means over its seeds of what `read` takes from each. */
function cellsOf<T>(outcomes: readonly T[]) {
  const of = (read: (outcome: T) => number) => estimate(outcomes.map(read));
  return {
    of,
    percent: (read: (outcome: T) => number, digits = 1) => plusMinus(of(read), digits, 100),
    milliseconds: (read: (outcome: T) => number) => plusMinus(of(read), 0),
    hours: (read: (outcome: T) => number) => plusMinus(of(read), 1),
  };
}

function meanMicro(amounts: readonly bigint[]): bigint {
  return amounts.reduce((sum, amount) => sum + amount, 0n) / BigInt(Math.max(1, amounts.length));
}

/** 1 - cost / cost at submission prices; a ratio for display, from the bigint sums. */
function savedShare(outcome: BatchOutcome): number {
  const ppm = (outcome.costMicro * 1_000_000n) / (outcome.atSubmissionMicro || 1n);
  return 1 - Number(ppm) / 1_000_000;
}

function batchRow(scenario: BatchScenario, seeds: readonly SeedOutcome[]): string {
  const outcomes = seeds.map((seed) => seed.batch);
  const { of, percent, hours } = cellsOf(outcomes);
  const regionShare = (region: string) =>
    (of((outcome) => outcome.regionShares.get(region) ?? 0).mean * 100).toFixed(0);
  return [
    '',
    scenario.name,
    `${scenario.interactiveReserveBps / 100}%`,
    String(scenario.linesInFlightMax),
    scenario.lineCount.toLocaleString('en'),
    percent((outcome) => outcome.doneInWindowShare),
    percent((outcome) => outcome.expiredShare),
    percent((outcome) => outcome.offpeakShare),
    tariffs.map((tariff) => regionShare(tariff.region)).join(' / '),
    hours((outcome) => outcome.lastEndedHours),
    formatMoney(meanMicro(outcomes.map((outcome) => outcome.atSubmissionMicro))),
    formatMoney(meanMicro(outcomes.map((outcome) => outcome.costMicro))),
    percent(savedShare),
    '',
  ]
    .join(' | ')
    .trim();
}

function verdict(ratio: Estimate): string {
  return ratio.mean <= ttftTargetRatio
    ? 'met'
    : `missed by ${((ratio.mean / ttftTargetRatio - 1) * 100).toFixed(0)}%`;
}

function interactiveRow(scenario: BatchScenario, seeds: readonly SeedOutcome[]): string {
  const { of, percent, milliseconds } = cellsOf(seeds.map((seed) => seed.interactive));
  const ratio = of((outcome) => outcome.p99Ms / outcome.baseP99Ms);
  const whileRunning = of((outcome) => outcome.p99WhileRunningMs / outcome.baseP99WhileRunningMs);
  return [
    '',
    scenario.name,
    `${milliseconds((outcome) => outcome.baseP50Ms)} → ${milliseconds((outcome) => outcome.p50Ms)}`,
    milliseconds((outcome) => outcome.baseP99Ms),
    milliseconds((outcome) => outcome.p99Ms),
    plusMinus(ratio, 2),
    verdict(ratio),
    `${milliseconds((outcome) => outcome.baseP99WhileRunningMs)} → ${milliseconds((outcome) => outcome.p99WhileRunningMs)}`,
    plusMinus(whileRunning, 2),
    percent((outcome) => outcome.shedOrTimeoutShare, 2),
    '',
  ]
    .join(' | ')
    .trim();
}

const startedMs = performance.now();
process.stderr.write(
  `batch bench: ${seedCount} seeds x (${selected.length} scenarios + no batch), one thread\n`,
);
const outcomes = runAll();
const wallSeconds = (performance.now() - startedMs) / 1000;

console.log(
  `# Cross-cycle batch: ${seedCount} seeds, Node ${process.version}, ${wallSeconds.toFixed(0)} s wall on one thread\n`,
);
console.log('### The batch\n');
console.log(
  `| scenario | reserve | lines in flight max | lines | done in window % | expired % | run off-peak % | ran in ${tariffs.map((tariff) => tariff.region).join(' / ')} % | last line ended, h after submission | cost at submission prices | cost | saved % |`,
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const scenario of selected) {
  console.log(batchRow(scenario, outcomes.get(scenario.name) ?? []));
}
console.log('\n### Interactive first-token time, without the batch and with it (same traces)\n');
console.log(
  `| scenario | p50 ms | p99 ms without | p99 ms with | p99 ÷ without | target ≤ ${ttftTargetRatio.toFixed(2)} | p99 ms while lines ran | ÷ without | shed + timeout + 5xx % with |`,
);
console.log('|---|---:|---:|---:|---:|---|---:|---:|---:|');
for (const scenario of selected) {
  console.log(interactiveRow(scenario, outcomes.get(scenario.name) ?? []));
}
