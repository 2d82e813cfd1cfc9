/**
 * The routing benchmark (issue 4, research/routing.md §7): every scenario x router x seed of
 * scenarios.ts in the discrete-event simulation, spread over worker threads, then one table per
 * scenario with each router's mean over seeds (95% confidence half-width after ±) and its p99
 * first-token time as a ratio to round-robin's on the same traces; then the wall-clock cost of a
 * routing decision with 64 backends, and the targets, met or missed. Asserts nothing.
 *
 *   npm run bench:routing [-- --seeds 10 --scenario hetero --workers 2 --limits '{...}']
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { measureDecisionCosts } from './decision-cost.ts';
import type { RunSummary } from './run-simulation.ts';
import { type RouterName, type Scenario, scenarios } from './scenarios.ts';
import type { SimulationJob } from './simulation-worker.ts';
import { type Estimate, estimate } from './statistics.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '10' },
    scenario: { type: 'string', default: '' },
    workers: { type: 'string', default: String(availableParallelism()) },
    /** Limits to override in every run, as JSON: `{"regionSpillHoldMs": 500}` (for tuning). */
    limits: { type: 'string', default: '' },
  },
});
if (values.limits !== '') {
  // Workers inherit the environment; run-simulation.ts reads it.
  process.env.ROUTING_BENCH_LIMITS = values.limits;
}
const seedCount = Number(values.seeds);
const workerCount = Math.max(1, Number(values.workers));
const selected = scenarios().filter((scenario) => scenario.name.includes(values.scenario));

function startWorker(): Worker {
  const url = new URL('./simulation-worker.ts', import.meta.url).href;
  // Workers do not inherit `--import tsx`; the worker registers it before loading the module.
  const source = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url)}); });`;
  return new Worker(source, { eval: true });
}

async function runAll(jobs: readonly SimulationJob[]): Promise<RunSummary[]> {
  const results: RunSummary[] = [];
  let next = 0;
  const workers = Array.from({ length: Math.min(workerCount, jobs.length) }, startWorker);
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          const sendNext = () => {
            const job = jobs[next];
            next += 1;
            if (job === undefined) {
              void worker.terminate().then(() => resolve());
              return;
            }
            worker.postMessage(job);
          };
          worker.on('message', (summary: RunSummary) => {
            results.push(summary);
            if (results.length % 100 === 0) {
              process.stderr.write(`  ${results.length}/${jobs.length} runs\n`);
            }
            sendNext();
          });
          worker.on('error', reject);
          sendNext();
        }),
    ),
  );
  return results;
}

const milliseconds = (value: Estimate) =>
  Number.isNaN(value.mean)
    ? 'n/a'
    : `${value.mean.toFixed(0)} ±${(value.halfWidth || 0).toFixed(0)}`;
const seconds = (value: Estimate) => (value.mean / 1000).toFixed(2);
const percent = (value: number) => (value * 100).toFixed(2);

function pairedRatio(
  runs: readonly RunSummary[],
  baseline: readonly RunSummary[],
  field: keyof RunSummary,
): Estimate {
  const baseBySeed = new Map(baseline.map((run) => [run.seed, run]));
  return estimate(
    runs.flatMap((run) => {
      const base = baseBySeed.get(run.seed);
      const value = run[field];
      const baseValue = base?.[field];
      return typeof value === 'number' && typeof baseValue === 'number' && baseValue > 0
        ? [value / baseValue]
        : [];
    }),
  );
}

function table(scenario: Scenario, results: readonly RunSummary[]): string {
  const runsOf = (router: RouterName) => results.filter((run) => run.router === router);
  const roundRobin = runsOf('round-robin');
  const lines = [
    `### ${scenario.title} (\`${scenario.name}\`)`,
    '',
    '| router | TTFT p50 ms | TTFT p90 ms | TTFT p99 ms | p99 ÷ round-robin | E2E p50 s | E2E p99 s | req/s | errors % shed / 5xx / timeout / mid-stream | residency violations | cross-region % | µs/decision |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const router of scenario.routers) {
    const runs = runsOf(router);
    const of = (field: keyof RunSummary) =>
      estimate(
        runs.map((run) => run[field]).filter((value): value is number => typeof value === 'number'),
      );
    const ratio = pairedRatio(runs, roundRobin, 'firstTokenP99Ms');
    const errors = ['shedRate', 'serverErrorRate', 'timeoutRate', 'midStreamRate'] as const;
    lines.push(
      [
        '',
        router,
        milliseconds(of('firstTokenP50Ms')),
        milliseconds(of('firstTokenP90Ms')),
        milliseconds(of('firstTokenP99Ms')),
        `${ratio.mean.toFixed(2)} ±${(ratio.halfWidth || 0).toFixed(2)}`,
        seconds(of('endToEndP50Ms')),
        seconds(of('endToEndP99Ms')),
        of('throughputPerSecond').mean.toFixed(1),
        errors.map((field) => percent(of(field).mean)).join(' / '),
        String(runs.reduce((sum, run) => sum + run.residencyViolations, 0)),
        percent(of('crossRegionShare').mean).replace(/0$/, ''),
        of('decisionMicros').mean.toFixed(2),
        '',
      ]
        .join(' | ')
        .trim(),
    );
  }
  return lines.join('\n');
}

function targets(results: readonly RunSummary[], decisionMicros: number): string[] {
  const runs = (scenario: string, router: RouterName) =>
    results.filter((run) => run.scenario === scenario && run.router === router);
  const lines: string[] = [];
  for (const scenario of ['hetero-70', 'hetero-80', 'hetero-90']) {
    const ours = runs(scenario, 'ours');
    if (ours.length === 0) {
      continue;
    }
    for (const [baseline, limit] of [
      ['round-robin', 0.5],
      ['least-in-flight', 0.8],
      ['litellm-latency', 0.8],
    ] as const) {
      const ratio = pairedRatio(ours, runs(scenario, baseline), 'firstTokenP99Ms');
      const verdict =
        ratio.mean <= limit ? 'met' : `missed by ${((ratio.mean / limit - 1) * 100).toFixed(0)}%`;
      lines.push(
        `- ${scenario}: ours p99 TTFT ÷ ${baseline} = ${ratio.mean.toFixed(2)} ±${ratio.halfWidth.toFixed(2)} (target ≤ ${limit}): ${verdict}`,
      );
    }
  }
  const violations = results.reduce((sum, run) => sum + run.residencyViolations, 0);
  lines.push(
    `- residency violations, all scenarios and routers: ${violations} (target 0): ${violations === 0 ? 'met' : 'missed'}`,
  );
  const fast503 = runs('fault-fast-503', 'ours');
  if (fast503.length > 0) {
    const errorRate = estimate(
      fast503.map(
        (run) => run.shedRate + run.serverErrorRate + run.timeoutRate + run.midStreamRate,
      ),
    );
    lines.push(
      `- fault-fast-503: ours error rate ${percent(errorRate.mean)}% (target ≤ 0.1%): ${errorRate.mean <= 0.001 ? 'met' : 'missed'}`,
    );
  }
  lines.push(
    `- routing decision, 64 backends, median: ${decisionMicros.toFixed(2)} µs (target ≤ 20 µs): ${decisionMicros <= 20 ? 'met' : 'missed'}`,
  );
  return lines;
}

const startedMs = performance.now();
const jobs: SimulationJob[] = selected.flatMap((scenario) =>
  scenario.routers.flatMap((router) =>
    Array.from({ length: seedCount }, (_, index) => ({
      scenario: scenario.name,
      router,
      seed: index + 1,
    })),
  ),
);
process.stderr.write(`routing bench: ${jobs.length} runs on ${workerCount} workers\n`);
const results = await runAll(jobs);
const decisionCosts = measureDecisionCosts();
const wallSeconds = (performance.now() - startedMs) / 1000;

console.log(
  `# Routing benchmark: ${seedCount} seeds, Node ${process.version}, ${wallSeconds.toFixed(0)} s wall on ${workerCount} workers\n`,
);
for (const scenario of selected) {
  console.log(
    table(
      scenario,
      results.filter((run) => run.scenario === scenario.name),
    ),
  );
  console.log('');
}
console.log('### Routing decision, 64 backends, real time (median of batch means)\n');
console.log('| router | µs/decision |\n|---|---:|');
for (const cost of decisionCosts) {
  console.log(`| ${cost.router} | ${cost.medianMicros.toFixed(2)} |`);
}
const oursWorst = Math.max(
  ...decisionCosts
    .filter((cost) => cost.router.startsWith('ours'))
    .map((cost) => cost.medianMicros),
);
console.log('\n### Targets\n');
console.log(targets(results, oursWorst).join('\n'));
