/**
 * One run of the simulation: a scenario, a router and a seed. Builds the backends, one gateway
 * replica per region and replica index (each with its own router instance and state, sharing
 * their requests in flight per backend as through Redis), applies the
 * faults on schedule, replays the seed's trace, and summarises the requests that arrived after the
 * warm-up: first-token and end-to-end percentiles, throughput, errors by kind, residency
 * violations, cross-region share and the router's time per decision.
 */
import { createLatencyAwareRouter } from '../../src/backends/routing/latency-aware-router.ts';
import { createLeastInFlightRouter } from '../../src/backends/routing/least-in-flight-router.ts';
import type { Router } from '../../src/backends/routing/router.ts';
import { type Limits, limitsSchema } from '../../src/config.ts';
import type { Clock } from '../../src/platform/clock.ts';
import { createSeededRandom, type Random } from '../../src/platform/random.ts';
import {
  createLiteLlmLatencyRouter,
  createPeakEwmaRouter,
  createRandomRouter,
  createRoundRobinRouter,
} from './baseline-routers.ts';
import { shareDispatchCountsEvery } from './dispatch-count-sharing.ts';
import { EventQueue } from './event-queue.ts';
import { MetricsPages } from './metrics-pages.ts';
import { capacityPerSecond, output, prompt, type RouterName, type Scenario } from './scenarios.ts';
import { SimulatedBackend } from './simulated-backend.ts';
import { type RequestRecord, SimulatedGateway } from './simulated-gateway.ts';
import { percentile } from './statistics.ts';
import { generateTrace, type TraceRequest } from './workload.ts';

export type RunSummary = {
  scenario: string;
  router: RouterName;
  seed: number;
  requests: number;
  firstTokenP50Ms: number;
  firstTokenP90Ms: number;
  firstTokenP99Ms: number;
  endToEndP50Ms: number;
  endToEndP99Ms: number;
  throughputPerSecond: number;
  /** Shares of the requests measured. */
  shedRate: number;
  serverErrorRate: number;
  timeoutRate: number;
  midStreamRate: number;
  residencyViolations: number;
  crossRegionShare: number;
  decisionMicros: number;
  events: number;
};

/** Time after the last arrival for requests in flight to finish. */
const drainMs = 120_000;

export type RunOptions = {
  /** Sees every request's record, for digging into one run. */
  onRecord?: (record: RequestRecord) => void;
  /** Sees the simulation once it is set up, before it runs. */
  onStart?: (events: EventQueue, gateways: ReadonlyMap<string, SimulatedGateway>) => void;
  /** Reshapes the seed's trace before it is replayed (the batch bench thins it to a day's curve). */
  shapeTrace?: (trace: TraceRequest[]) => TraceRequest[];
};

export function runSimulation(
  scenario: Scenario,
  routerName: RouterName,
  seed: number,
  options: RunOptions = {},
): RunSummary {
  const events = new EventQueue();
  const limits: Limits = {
    ...limitsSchema.parse(JSON.parse(process.env.ROUTING_BENCH_LIMITS ?? '{}')),
    metricsStaleMs: Math.max(1_000, 3 * scenario.scrapeIntervalMs),
  };
  const cluster = new Map<string, SimulatedBackend>(
    scenario.backends.map((placement) => [
      placement.id,
      new SimulatedBackend(placement.id, placement.region, placement.kind, events),
    ]),
  );
  const capacity = scenario.backends.reduce((sum, b) => sum + capacityPerSecond(b.kind), 0);
  const generated = generateTrace(
    {
      durationMs: scenario.durationMs,
      requestsPerSecond: capacity * scenario.load,
      arrival: scenario.arrival,
      regionShares: scenario.regionShares,
      residency: scenario.residency,
      replicasPerRegion: scenario.replicasPerRegion,
      prompt,
      output,
    },
    seed,
  );
  const trace = options.shapeTrace?.(generated) ?? generated;
  const records: RequestRecord[] = [];
  const decisions = { count: 0, totalMs: 0 };
  const context = {
    events,
    cluster,
    pages: new MetricsPages(scenario.faults),
    limits,
    scrapeIntervalMs: scenario.scrapeIntervalMs,
    record: (record: RequestRecord) => {
      records.push(record);
      options.onRecord?.(record);
    },
    decisions,
  };
  const regions = Object.keys(scenario.regionShares);
  const replicaCount = regions.length * scenario.replicasPerRegion;
  const gateways = new Map<string, SimulatedGateway>();
  const phases = createSeededRandom(seed * 31 + 7);
  let gatewayIndex = 0;
  for (const region of regions) {
    for (let replica = 0; replica < scenario.replicasPerRegion; replica += 1) {
      const random = createSeededRandom(seed * 1_000 + gatewayIndex * 17 + 1);
      const router = createRouter(routerName, events, random, limits, replicaCount);
      const gateway = new SimulatedGateway(region, scenario.backends, router, context);
      gateway.startBackgroundWork(
        scenario.durationMs + drainMs,
        phases() * scenario.scrapeIntervalMs,
      );
      gateways.set(`${region}/${replica}`, gateway);
      gatewayIndex += 1;
    }
  }
  shareDispatchCountsEvery(
    [...gateways.values()],
    events,
    limits.dispatchCountsShareIntervalMs,
    scenario.durationMs + drainMs,
  );
  scheduleFaults(scenario, cluster, events);
  for (const request of trace) {
    events.at(request.arrivalMs, () =>
      gateways.get(`${request.clientRegion}/${request.replica}`)?.receive(request),
    );
  }
  options.onStart?.(events, gateways);
  events.run(scenario.durationMs + drainMs);
  return summarise(scenario, routerName, seed, records, decisions, events.processedCount);
}

function createRouter(
  name: RouterName,
  clock: Clock,
  random: Random,
  limits: Limits,
  replicaCount: number,
): Router {
  const ours = (ablation: Parameters<typeof createLatencyAwareRouter>[0]['ablation'] = {}) =>
    createLatencyAwareRouter({
      clock,
      random,
      settings: limits,
      liveReplicaCount: () => replicaCount,
      ablation,
      name,
    });
  switch (name) {
    case 'round-robin':
      return createRoundRobinRouter(clock);
    case 'random':
      return createRandomRouter(random, clock);
    case 'least-in-flight':
      return createLeastInFlightRouter(random, clock);
    case 'litellm-latency':
      return createLiteLlmLatencyRouter(random, clock);
    case 'p2c-peak-ewma':
      return createPeakEwmaRouter(random, clock);
    case 'ours':
      return ours();
    case 'ours-no-correction':
      return ours({ correctScrapedLoad: false });
    case 'ours-no-penalty':
      return ours({ failurePenalty: false });
    case 'ours-no-hysteresis':
      return ours({ regionHysteresis: false });
    case 'ours-p2c-only':
      return ours({ argmin: false });
    case 'ours-ttft-only':
      return ours({ decodeTime: false, delayToOthers: false });
    case 'ours-own-cost-only':
      return ours({ delayToOthers: false });
  }
}

function scheduleFaults(
  scenario: Scenario,
  cluster: ReadonlyMap<string, SimulatedBackend>,
  events: EventQueue,
): void {
  for (const fault of scenario.faults) {
    if (fault.kind === 'stale_metrics' || fault.kind === 'renamed_metrics') {
      continue;
    }
    for (const id of fault.backendIds) {
      const backend = cluster.get(id);
      if (backend === undefined) {
        continue;
      }
      events.at(fault.fromMs, () => {
        if (fault.kind === 'gray') {
          backend.slowdown = fault.slowdown;
          return;
        }
        if (fault.kind === 'crash') {
          backend.mode = 'crashed';
          backend.cutEverything();
        } else {
          backend.mode = fault.kind;
        }
      });
      events.at(fault.untilMs, () => {
        backend.mode = 'up';
        backend.slowdown = 1;
      });
    }
  }
}

function summarise(
  scenario: Scenario,
  router: RouterName,
  seed: number,
  records: readonly RequestRecord[],
  decisions: { count: number; totalMs: number },
  eventCount: number,
): RunSummary {
  const measured = records.filter(
    (record) =>
      record.request.arrivalMs >= scenario.warmupMs &&
      record.request.arrivalMs < scenario.durationMs,
  );
  const count = Math.max(1, measured.length);
  const share = (outcome: RequestRecord['outcome']) =>
    measured.filter((record) => record.outcome === outcome).length / count;
  const firstTokens = measured.flatMap((record) =>
    record.firstTokenMs === undefined ? [] : [record.firstTokenMs],
  );
  const endToEnd = measured.flatMap((record) =>
    record.endToEndMs === undefined ? [] : [record.endToEndMs],
  );
  const served = measured.filter((record) => record.servedRegion !== undefined);
  return {
    scenario: scenario.name,
    router,
    seed,
    requests: measured.length,
    firstTokenP50Ms: percentile(firstTokens, 0.5),
    firstTokenP90Ms: percentile(firstTokens, 0.9),
    firstTokenP99Ms: percentile(firstTokens, 0.99),
    endToEndP50Ms: percentile(endToEnd, 0.5),
    endToEndP99Ms: percentile(endToEnd, 0.99),
    throughputPerSecond:
      (share('ok') * measured.length * 1000) / (scenario.durationMs - scenario.warmupMs),
    shedRate: share('shed'),
    serverErrorRate: share('server_error'),
    timeoutRate: share('timeout'),
    midStreamRate: share('mid_stream'),
    residencyViolations: served.filter(
      (record) =>
        record.request.allowedRegions !== null &&
        !record.request.allowedRegions.includes(record.servedRegion ?? ''),
    ).length,
    crossRegionShare:
      served.filter((record) => record.servedRegion !== record.request.clientRegion).length /
      Math.max(1, served.length),
    decisionMicros: decisions.count === 0 ? 0 : (decisions.totalMs * 1000) / decisions.count,
    events: eventCount,
  };
}
