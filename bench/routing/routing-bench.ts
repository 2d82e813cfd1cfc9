/**
 * The routing benchmark (issues 4 and 17, research/routing.md §7): every scenario x router x
 * seed of scenarios.ts in the discrete-event simulation, spread over worker threads, then one
 * table per scenario with each router's mean over seeds (95% confidence half-width after ±) and
 * its first-token and end-to-end percentiles as ratios to round-robin's and least-in-flight's on
 * the same traces; then the wall-clock cost of a routing decision with 64 backends, and each
 * scenario's targets (scenarios.ts), met or missed. Asserts nothing.
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
const ratio = (value: Estimate) => `${value.mean.toFixed(2)} ±${(value.halfWidth || 0).toFixed(2)}`;

type RatioField = 'firstTokenP99Ms' | 'endToEndP50Ms' | 'endToEndP99Ms';

/** The mean over seeds of a router's per-seed ratio to a baseline's value on the same trace. */
function pairedRatio(
  runs: readonly RunSummary[],
  baseline: readonly RunSummary[],
  field: RatioField,
): Estimate {
  const baseBySeed = new Map(baseline.map((run) => [run.seed, run]));
  return estimate(
    runs.flatMap((run) => {
      const baseValue = baseBySeed.get(run.seed)?.[field];
      return baseValue !== undefined && baseValue > 0 ? [run[field] / baseValue] : [];
    }),
  );
}

/** Every run of one scenario, by router. */
type ScenarioRuns = (router: RouterName) => readonly RunSummary[];

const errorFields = ['shedRate', 'serverErrorRate', 'timeoutRate', 'midStreamRate'] as const;

/** One column of a scenario's table: its header, and its cell for one router's runs. */
type Column = {
  header: string;
  cell(runs: readonly RunSummary[], runsOf: ScenarioRuns): string;
};

function meanOf(runs: readonly RunSummary[], field: keyof RunSummary): Estimate {
  return estimate(
    runs.map((run) => run[field]).filter((value): value is number => typeof value === 'number'),
  );
}

const ratioTo = (field: RatioField, baseline: RouterName): Column['cell'] => {
  return (runs, runsOf) => ratio(pairedRatio(runs, runsOf(baseline), field));
};

const columns: readonly Column[] = [
  { header: 'TTFT p50 ms', cell: (runs) => milliseconds(meanOf(runs, 'firstTokenP50Ms')) },
  { header: 'TTFT p90 ms', cell: (runs) => milliseconds(meanOf(runs, 'firstTokenP90Ms')) },
  { header: 'TTFT p99 ms', cell: (runs) => milliseconds(meanOf(runs, 'firstTokenP99Ms')) },
  { header: 'TTFT p99 ÷ round-robin', cell: ratioTo('firstTokenP99Ms', 'round-robin') },
  { header: 'TTFT p99 ÷ least-in-flight', cell: ratioTo('firstTokenP99Ms', 'least-in-flight') },
  { header: 'E2E p50 s', cell: (runs) => seconds(meanOf(runs, 'endToEndP50Ms')) },
  { header: 'E2E p99 s', cell: (runs) => seconds(meanOf(runs, 'endToEndP99Ms')) },
  { header: 'E2E p50 ÷ least-in-flight', cell: ratioTo('endToEndP50Ms', 'least-in-flight') },
  { header: 'E2E p99 ÷ least-in-flight', cell: ratioTo('endToEndP99Ms', 'least-in-flight') },
  { header: 'req/s', cell: (runs) => meanOf(runs, 'throughputPerSecond').mean.toFixed(1) },
  {
    header: 'errors % shed / 5xx / timeout / mid-stream',
    cell: (runs) => errorFields.map((field) => percent(meanOf(runs, field).mean)).join(' / '),
  },
  {
    header: 'residency violations',
    cell: (runs) => String(runs.reduce((sum, run) => sum + run.residencyViolations, 0)),
  },
  {
    header: 'cross-region %',
    cell: (runs) => percent(meanOf(runs, 'crossRegionShare').mean).replace(/0$/, ''),
  },
  { header: 'µs/decision', cell: (runs) => meanOf(runs, 'decisionMicros').mean.toFixed(2) },
];

function table(scenario: Scenario, results: readonly RunSummary[]): string {
  const runsOf: ScenarioRuns = (router) => results.filter((run) => run.router === router);
  const lines = [
    `### ${scenario.title} (\`${scenario.name}\`)`,
    '',
    `| router | ${columns.map((column) => column.header).join(' | ')} |`,
    `|---|${columns.map(() => '---:').join('|')}|`,
  ];
  for (const router of scenario.routers) {
    const runs = runsOf(router);
    lines.push(`| ${router} | ${columns.map((column) => column.cell(runs, runsOf)).join(' | ')} |`);
  }
  return lines.join('\n');
}

const fieldNames: Record<RatioField, string> = {
  firstTokenP99Ms: 'TTFT p99',
  endToEndP50Ms: 'E2E p50',
  endToEndP99Ms: 'E2E p99',
};

/** One line per target of the scenario, met or missed by how much. */
function scenarioTargets(scenario: Scenario, runsOf: ScenarioRuns): string[] {
  const ours = runsOf('ours');
  if (ours.length === 0) {
    return [];
  }
  return scenario.targets.map((target) => {
    if (target.kind === 'errors') {
      const errorRate = estimate(
        ours.map((run) => errorFields.reduce((sum, field) => sum + run[field], 0)),
      );
      const verdict = errorRate.mean <= target.atMost ? 'met' : 'missed';
      return `- ${scenario.name}: ours errors ${percent(errorRate.mean)}% (target ≤ ${percent(target.atMost)}%): ${verdict}`;
    }
    const measured = pairedRatio(ours, runsOf(target.baseline), target.field);
    const verdict =
      measured.mean <= target.atMost
        ? 'met'
        : `missed by ${((measured.mean / target.atMost - 1) * 100).toFixed(0)}%`;
    return `- ${scenario.name}: ours ${fieldNames[target.field]} ÷ ${target.baseline} = ${ratio(measured)} (target ≤ ${target.atMost}): ${verdict}`;
  });
}

function targets(results: readonly RunSummary[], decisionMicros: number): string[] {
  const lines = selected.flatMap((scenario) =>
    scenarioTargets(scenario, (router) =>
      results.filter((run) => run.scenario === scenario.name && run.router === router),
    ),
  );
  const violations = results.reduce((sum, run) => sum + run.residencyViolations, 0);
  lines.push(
    `- residency violations, all scenarios and routers: ${violations} (target 0): ${violations === 0 ? 'met' : 'missed'}`,
  );
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
