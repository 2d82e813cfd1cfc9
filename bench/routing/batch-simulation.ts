/**
 * One run of the cross-cycle batch benchmark: the routing simulation over the compressed day,
 * its trace thinned to the diurnal curve, with (or, for the comparison, without) a batch backlog
 * submitted at the start to the scheduler of the tenant's home gateway. The backlog's lines are
 * drawn by the workload generator with the interactive length distributions; their arrival
 * times are dropped, as they all come at once. Returns the interactive first-token times and the
 * batch's tally.
 */
import { type BatchScenario, interactiveScenario, tariffs } from './batch-scenarios.ts';
import { thinToDiurnal } from './diurnal-load.ts';
import { type RunSummary, runSimulation } from './run-simulation.ts';
import { output, prompt } from './scenarios.ts';
import { type BatchTally, SimulatedBatchScheduler } from './simulated-batch-scheduler.ts';
import { TariffBook } from './tariff-book.ts';
import { generateTrace, type TraceRequest } from './workload.ts';

export type InteractiveTimes = { arrivalMs: number; firstTokenMs: number };

export type BatchRun = {
  summary: RunSummary;
  /** Interactive requests measured (after the warm-up, within the day) that had a first token. */
  interactive: InteractiveTimes[];
  batch: BatchTally | undefined;
};

/** The backlog: the generator's first `lineCount` requests. */
function backlogLines(lineCount: number, seed: number): TraceRequest[] {
  const spec = {
    durationMs: 2 * lineCount + 1_000,
    requestsPerSecond: 1_000,
    arrival: 'poisson' as const,
    regionShares: { backlog: 1 },
    residency: undefined,
    replicasPerRegion: 1,
    prompt,
    output,
  };
  const lines = generateTrace(spec, seed * 104_729 + 5).slice(0, lineCount);
  if (lines.length < lineCount) {
    throw new Error(`the generator drew ${lines.length} lines of ${lineCount}`);
  }
  return lines;
}

export function runBatchSimulation(batch: BatchScenario | undefined, seed: number): BatchRun {
  const tariffBook = new TariffBook(tariffs);
  const interactive: InteractiveTimes[] = [];
  let scheduler: SimulatedBatchScheduler | undefined;
  const summary = runSimulation(interactiveScenario, 'ours', seed, {
    shapeTrace: (trace) => thinToDiurnal(trace, tariffs, seed),
    onRecord: (record) => {
      const arrivalMs = record.request.arrivalMs;
      if (
        record.firstTokenMs !== undefined &&
        arrivalMs >= interactiveScenario.warmupMs &&
        arrivalMs < interactiveScenario.durationMs
      ) {
        interactive.push({ arrivalMs, firstTokenMs: record.firstTokenMs });
      }
    },
    onStart: (events, gateways) => {
      const gateway = batch && gateways.get(`${batch.schedulerRegion}/0`);
      if (batch === undefined || gateway === undefined) {
        return;
      }
      scheduler = new SimulatedBatchScheduler({
        scenario: batch,
        gateway,
        events,
        tariffs: tariffBook,
        lines: backlogLines(batch.lineCount, seed),
      });
      scheduler.start();
    },
  });
  return { summary, interactive, batch: scheduler?.tally };
}
