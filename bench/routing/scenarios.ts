/**
 * The scenarios of the routing benchmark (research/routing.md §7.5): pools, regions and their
 * round trips, offered load, arrivals, residency, gateway replicas and faults. Load is a share of
 * the pool's capacity, estimated from the backend model with the workload's mean lengths. Each
 * scenario lists the routers it compares and the targets our router is judged by in it.
 */
import type { BackendKind } from './simulated-backend.ts';
import { defaultTimings } from './simulated-backend.ts';
import { type LengthDistribution, meanLength } from './workload.ts';

export const backendKinds = {
  h100: { name: 'H100-like', speed: 1, decodeSpeed: 1, slots: 64, kvTokens: 80_000 },
  a100: { name: 'A100-like', speed: 0.6, decodeSpeed: 0.6, slots: 32, kvTokens: 40_000 },
  l4: { name: 'L4-like', speed: 0.4, decodeSpeed: 0.4, slots: 16, kvTokens: 16_000 },
  /** Prefills like an H100, decodes 13 times slower (memory-bound): its first token is as fast. */
  slowDecoder: {
    name: 'H100-like prefill, 13x slower decode',
    speed: 1,
    decodeSpeed: 1 / 13,
    slots: 64,
    kvTokens: 80_000,
  },
} as const satisfies Record<string, BackendKind>;

export type BackendPlacement = { id: string; region: string; kind: BackendKind };

export type FaultSpec =
  | {
      kind: 'crash' | 'black_hole' | 'fast_503' | 'rate_limited';
      backendIds: readonly string[];
      fromMs: number;
      untilMs: number;
    }
  | {
      kind: 'gray';
      backendIds: readonly string[];
      fromMs: number;
      untilMs: number;
      slowdown: number;
    }
  /** The metrics page keeps answering with the numbers it had at `fromMs`. */
  | { kind: 'stale_metrics'; backendIds: readonly string[]; fromMs: number }
  /** Some pages use SGLang's names or vLLM's old KV name, some have no metrics at all. */
  | {
      kind: 'renamed_metrics';
      sglang: readonly string[];
      oldVllm: readonly string[];
      none: readonly string[];
    };

export type RouterName =
  | 'round-robin'
  | 'random'
  | 'least-in-flight'
  | 'litellm-latency'
  | 'p2c-peak-ewma'
  | 'ours'
  | 'ours-no-correction'
  | 'ours-no-penalty'
  | 'ours-no-hysteresis'
  | 'ours-p2c-only'
  | 'ours-ttft-only'
  | 'ours-own-cost-only';

export const baselineRouters: readonly RouterName[] = [
  'round-robin',
  'random',
  'least-in-flight',
  'litellm-latency',
  'p2c-peak-ewma',
  'ours',
];

export const ablationRouters: readonly RouterName[] = [
  'ours-no-correction',
  'ours-no-penalty',
  'ours-no-hysteresis',
  'ours-own-cost-only',
];

/** What a scenario's table is judged by, for our router (routing-bench.ts prints each). */
export type ScenarioTarget =
  /** Our mean over seeds of the per-seed ratio to the baseline on the same trace, at most this. */
  | {
      kind: 'ratio';
      field: 'firstTokenP99Ms' | 'endToEndP50Ms' | 'endToEndP99Ms';
      baseline: RouterName;
      atMost: number;
    }
  /** Requests that failed (shed, 5xx, timeout, cut mid-stream), as a share, at most this. */
  | { kind: 'errors'; atMost: number };

export type Scenario = {
  name: string;
  title: string;
  backends: readonly BackendPlacement[];
  /** Offered load as a share of capacity. */
  load: number;
  arrival: 'poisson' | 'bursty';
  regionShares: Record<string, number>;
  residency: { region: string; share: number } | undefined;
  replicasPerRegion: number;
  faults: readonly FaultSpec[];
  scrapeIntervalMs: number;
  routers: readonly RouterName[];
  targets: readonly ScenarioTarget[];
  durationMs: number;
  warmupMs: number;
};

const ratioTarget = (
  field: 'firstTokenP99Ms' | 'endToEndP50Ms' | 'endToEndP99Ms',
  baseline: RouterName,
  atMost: number,
): ScenarioTarget => ({ kind: 'ratio', field, baseline, atMost });

/**
 * Up to 90% load on an uneven pool (issues 4 and 17): a first token at p99 well below
 * least-in-flight's, and whole answers no slower than its, median and p99.
 */
const unevenPoolTargets: readonly ScenarioTarget[] = [
  ratioTarget('firstTokenP99Ms', 'least-in-flight', 0.8),
  ratioTarget('endToEndP50Ms', 'least-in-flight', 1),
  ratioTarget('endToEndP99Ms', 'least-in-flight', 1),
];

/** From 70% load the first issue's comparisons with the weaker routers too. */
const sweepTargets: readonly ScenarioTarget[] = [
  ratioTarget('firstTokenP99Ms', 'round-robin', 0.5),
  ratioTarget('firstTokenP99Ms', 'litellm-latency', 0.8),
  ...unevenPoolTargets,
];

export const prompt: LengthDistribution = { median: 400, sigma: 1, max: 8_192 };
export const output: LengthDistribution = { median: 120, sigma: 0.9, max: 1_024 };

const oneWayBaseMs: Record<string, number> = {
  'us-east|us-east': 1,
  'eu-west|eu-west': 1,
  'ap-south|ap-south': 1,
  'eu-west|us-east': 40,
  'ap-south|us-east': 95,
  'ap-south|eu-west': 70,
};

/** Half the round trip between two regions, before jitter. */
export function oneWayMs(from: string, to: string): number {
  const key = from < to ? `${from}|${to}` : `${to}|${from}`;
  return oneWayBaseMs[key] ?? 100;
}

let meanLengths: { promptMean: number; outputMean: number } | undefined;

/** Requests per second a backend sustains when full, from the step model and mean lengths. */
export function capacityPerSecond(kind: BackendKind): number {
  meanLengths ??= { promptMean: meanLength(prompt), outputMean: meanLength(output) };
  const { promptMean, outputMean } = meanLengths;
  const running = Math.min(kind.slots, kind.kvTokens / (promptMean + outputMean));
  const prefillPerStep = (running * promptMean) / outputMean;
  const stepMs =
    (defaultTimings.stepBaseMs + defaultTimings.stepPerSequenceMs * running) / kind.decodeSpeed +
    (defaultTimings.stepPerPrefillTokenMs * prefillPerStep) / kind.speed;
  return (running * 1000) / (outputMean * stepMs);
}

function place(region: string, kind: BackendKind, count: number, prefix: string) {
  return Array.from({ length: count }, (_, index) => ({
    id: `${region}-${prefix}${index + 1}`,
    region,
    kind,
  }));
}

/** Three regions of uneven size and speed; ap-south is small for its traffic. */
export const heterogeneousPool: readonly BackendPlacement[] = [
  ...place('us-east', backendKinds.h100, 2, 'h'),
  ...place('us-east', backendKinds.l4, 2, 'l'),
  ...place('eu-west', backendKinds.h100, 1, 'h'),
  ...place('eu-west', backendKinds.a100, 2, 'a'),
  ...place('ap-south', backendKinds.a100, 1, 'a'),
  ...place('ap-south', backendKinds.l4, 2, 'l'),
];

const homogeneousPool: readonly BackendPlacement[] = place('us-east', backendKinds.a100, 8, 'a');

/** One region, equal first-token speed, a 13x spread of decode speed. */
const decodeSpreadPool: readonly BackendPlacement[] = [
  ...place('us-east', backendKinds.h100, 2, 'h'),
  ...place('us-east', backendKinds.slowDecoder, 2, 's'),
];

const threeRegions = { 'us-east': 0.4, 'eu-west': 0.3, 'ap-south': 0.3 };

const base = {
  arrival: 'poisson' as const,
  residency: { region: 'eu-west', share: 0.15 },
  regionShares: threeRegions,
  replicasPerRegion: 1,
  faults: [],
  targets: [],
  scrapeIntervalMs: 250,
  durationMs: 100_000,
  warmupMs: 20_000,
};

const faultWindow = { fromMs: 40_000, untilMs: 80_000 };

function decodeSpread(load: number): Scenario {
  const percent = Math.round(load * 100);
  return {
    ...base,
    name: `decode-spread-${percent}`,
    title: `Decode spread: 2 H100-like and 2 that decode 13x slower, 1 region, ${percent}% load`,
    backends: decodeSpreadPool,
    load,
    regionShares: { 'us-east': 1 },
    residency: undefined,
    routers: [...baselineRouters, 'ours-ttft-only', 'ours-own-cost-only'],
    targets: unevenPoolTargets,
  };
}

function heterogeneous(name: string, title: string, changes: Partial<Scenario> = {}): Scenario {
  return {
    ...base,
    name,
    title,
    backends: heterogeneousPool,
    load: 0.8,
    routers: baselineRouters,
    ...changes,
  };
}

/** Beyond capacity every router queues: nothing to judge there. */
function targetsAtLoad(load: number): readonly ScenarioTarget[] {
  if (load > 0.9) {
    return [];
  }
  return load >= 0.7 ? sweepTargets : unevenPoolTargets;
}

export function scenarios(): Scenario[] {
  const sweep = [0.3, 0.5, 0.7, 0.8, 0.9, 1.1, 1.3].map((load) =>
    heterogeneous(
      `hetero-${Math.round(load * 100)}`,
      `Heterogeneous, 3 regions, 1 gateway per region, ${Math.round(load * 100)}% load`,
      {
        load,
        routers:
          load >= 0.7 && load <= 0.9 ? [...baselineRouters, ...ablationRouters] : baselineRouters,
        targets: targetsAtLoad(load),
      },
    ),
  );
  return [
    {
      ...base,
      name: 'homogeneous-70',
      title: 'Homogeneous, 1 region, 1 gateway, 70% load (sanity; argmin allowed)',
      backends: homogeneousPool,
      load: 0.7,
      regionShares: { 'us-east': 1 },
      residency: undefined,
      routers: [...baselineRouters, 'ours-p2c-only'],
    },
    ...sweep,
    ...[0.5, 0.7, 0.9].map(decodeSpread),
    heterogeneous('hetero-80-bursty', 'Heterogeneous, 80% load, bursty arrivals (CV 3)', {
      arrival: 'bursty',
      targets: unevenPoolTargets,
    }),
    heterogeneous(
      'hetero-80-4-replicas',
      'Heterogeneous, 80% load, 4 gateway replicas per region',
      {
        replicasPerRegion: 4,
        targets: unevenPoolTargets,
      },
    ),
    heterogeneous('fault-crash', 'Fault: a us-east H100 crashes (40-80 s), 70% load', {
      load: 0.7,
      faults: [{ kind: 'crash', backendIds: ['us-east-h1'], ...faultWindow }],
    }),
    heterogeneous(
      'fault-black-hole',
      'Fault: an eu-west A100 swallows requests (40-80 s), 70% load',
      {
        load: 0.7,
        faults: [{ kind: 'black_hole', backendIds: ['eu-west-a1'], ...faultWindow }],
      },
    ),
    heterogeneous(
      'fault-fast-503',
      'Fault: a us-east L4 answers 503 in 5 ms (whole run), 70% load',
      {
        load: 0.7,
        faults: [{ kind: 'fast_503', backendIds: ['us-east-l1'], fromMs: 0, untilMs: 1e12 }],
        routers: [...baselineRouters, 'ours-no-penalty'],
        targets: [{ kind: 'errors', atMost: 0 }],
      },
    ),
    heterogeneous('fault-gray', 'Fault: a us-east H100 runs 5x slower (40-80 s), 70% load', {
      load: 0.7,
      faults: [{ kind: 'gray', backendIds: ['us-east-h1'], slowdown: 5, ...faultWindow }],
    }),
    heterogeneous('fault-429', 'Fault: the eu-west H100 answers 429, Retry-After 10 s (40-80 s)', {
      load: 0.7,
      faults: [{ kind: 'rate_limited', backendIds: ['eu-west-h1'], ...faultWindow }],
    }),
    heterogeneous('fault-region-outage', 'Fault: all of ap-south down (40-80 s), 60% load', {
      load: 0.6,
      faults: [
        {
          kind: 'crash',
          backendIds: heterogeneousPool.filter((b) => b.region === 'ap-south').map((b) => b.id),
          ...faultWindow,
        },
      ],
    }),
    heterogeneous('fault-stale-metrics', 'Fault: 4 backends report frozen metrics from 20 s', {
      faults: [
        {
          kind: 'stale_metrics',
          backendIds: ['us-east-h1', 'us-east-l1', 'eu-west-a1', 'ap-south-l1'],
          fromMs: 20_000,
        },
      ],
      routers: [...baselineRouters, 'ours-no-correction'],
    }),
    heterogeneous('fault-renamed-metrics', 'Metrics: SGLang names, old vLLM names, or none', {
      faults: [
        {
          kind: 'renamed_metrics',
          sglang: ['us-east-h1', 'eu-west-a1', 'ap-south-a1'],
          oldVllm: ['us-east-h2', 'eu-west-h1'],
          none: ['us-east-l1', 'us-east-l2', 'ap-south-l1'],
        },
      ],
    }),
    heterogeneous('slow-scrape', 'Metrics scraped every 5 s (stale between scrapes), 80% load', {
      scrapeIntervalMs: 5_000,
      routers: [...baselineRouters, 'ours-no-correction'],
    }),
  ];
}
