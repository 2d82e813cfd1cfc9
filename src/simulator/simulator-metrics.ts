/**
 * What the simulator counts, and its two views: the JSON of `GET /sim/stats` for tests and demos,
 * and the Prometheus text of `GET /metrics` under vLLM's metric names, so the gateway's load
 * scraper reads a simulator exactly as it reads a real vLLM server.
 */

import type { FaultKind } from './fault-plan.ts';
import type { SlotScheduler } from './slot-scheduler.ts';

/** The body of `GET /sim/stats` (snake_case, like the rest of the HTTP API). */
export type SimulatorStats = {
  region: string;
  models: string[];
  slots: number;
  /** Inference requests (POSTs under /v1) that arrived, valid or not. */
  requests_received: number;
  /** Inference requests that got an HTTP status, whatever it was. */
  requests_served: number;
  requests_by_status: Record<string, number>;
  /** Generations that ran to their end and were delivered whole. */
  requests_completed: number;
  /** Requests whose client went away before the answer was complete. */
  requests_aborted: number;
  faults_injected: Partial<Record<FaultKind, number>>;
  tokens_generated: number;
  prompt_tokens: number;
  running: number;
  waiting: number;
};

export type SimulatorMetrics = {
  recordRequestReceived(): void;
  recordStatus(status: number): void;
  recordFault(kind: FaultKind): void;
  recordAborted(): void;
  recordPromptTokens(model: string, tokenCount: number): void;
  recordGeneratedTokens(model: string, tokenCount: number): void;
  recordCompleted(model: string): void;
  stats(): SimulatorStats;
  renderPrometheus(): string;
};

export type SimulatorMetricsSetup = {
  region: string;
  models: readonly string[];
  slotCount: number;
  scheduler: SlotScheduler;
};

type ModelCounters = { promptTokens: number; generationTokens: number; requestSuccess: number };

export function createSimulatorMetrics(setup: SimulatorMetricsSetup): SimulatorMetrics {
  const countersByModel = new Map<string, ModelCounters>(
    setup.models.map((model) => [
      model,
      { promptTokens: 0, generationTokens: 0, requestSuccess: 0 },
    ]),
  );
  const requestsByStatus: Record<string, number> = {};
  const faultsInjected: Partial<Record<FaultKind, number>> = {};
  let requestsReceived = 0;
  let requestsServed = 0;
  let requestsCompleted = 0;
  let requestsAborted = 0;

  function countersFor(model: string): ModelCounters {
    let counters = countersByModel.get(model);
    if (counters === undefined) {
      counters = { promptTokens: 0, generationTokens: 0, requestSuccess: 0 };
      countersByModel.set(model, counters);
    }
    return counters;
  }

  function sumCounters(field: keyof ModelCounters): number {
    let total = 0;
    for (const counters of countersByModel.values()) {
      total += counters[field];
    }
    return total;
  }

  return {
    recordRequestReceived() {
      requestsReceived += 1;
    },
    recordStatus(status) {
      requestsServed += 1;
      requestsByStatus[status] = (requestsByStatus[status] ?? 0) + 1;
    },
    recordFault(kind) {
      faultsInjected[kind] = (faultsInjected[kind] ?? 0) + 1;
    },
    recordAborted() {
      requestsAborted += 1;
    },
    recordPromptTokens(model, tokenCount) {
      countersFor(model).promptTokens += tokenCount;
    },
    recordGeneratedTokens(model, tokenCount) {
      countersFor(model).generationTokens += tokenCount;
    },
    recordCompleted(model) {
      requestsCompleted += 1;
      countersFor(model).requestSuccess += 1;
    },
    stats() {
      const slotCounts = setup.scheduler.counts();
      return {
        region: setup.region,
        models: [...setup.models],
        slots: setup.slotCount,
        requests_received: requestsReceived,
        requests_served: requestsServed,
        requests_by_status: { ...requestsByStatus },
        requests_completed: requestsCompleted,
        requests_aborted: requestsAborted,
        faults_injected: { ...faultsInjected },
        tokens_generated: sumCounters('generationTokens'),
        prompt_tokens: sumCounters('promptTokens'),
        running: slotCounts.running,
        waiting: slotCounts.waiting,
      };
    },
    renderPrometheus: () => renderPrometheusText(setup, countersByModel),
  };
}

type MetricFamily = {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  valueFor(model: string): number;
};

/**
 * Gauges are per model and add up to the server's totals: a scraper that sums over `model_name`
 * (as vLLM routers sum over `engine`) sees the whole GPU. The KV cache is modelled as one block
 * per running sequence, so each model's share is its running count over the slot count.
 */
function renderPrometheusText(
  setup: SimulatorMetricsSetup,
  countersByModel: ReadonlyMap<string, ModelCounters>,
): string {
  const counters = (model: string) =>
    countersByModel.get(model) ?? { promptTokens: 0, generationTokens: 0, requestSuccess: 0 };
  const families: MetricFamily[] = [
    {
      name: 'vllm:num_requests_running',
      type: 'gauge',
      help: 'Number of requests in model execution batches.',
      valueFor: (model) => setup.scheduler.countsFor(model).running,
    },
    {
      name: 'vllm:num_requests_waiting',
      type: 'gauge',
      help: 'Number of requests waiting to be processed.',
      valueFor: (model) => setup.scheduler.countsFor(model).waiting,
    },
    {
      name: 'vllm:kv_cache_usage_perc',
      type: 'gauge',
      help: 'KV-cache usage. 1 means 100 percent usage.',
      valueFor: (model) => setup.scheduler.countsFor(model).running / setup.slotCount,
    },
    {
      name: 'vllm:prompt_tokens_total',
      type: 'counter',
      help: 'Number of prefill tokens processed.',
      valueFor: (model) => counters(model).promptTokens,
    },
    {
      name: 'vllm:generation_tokens_total',
      type: 'counter',
      help: 'Number of generation tokens processed.',
      valueFor: (model) => counters(model).generationTokens,
    },
    {
      name: 'vllm:request_success_total',
      type: 'counter',
      help: 'Count of successfully processed requests.',
      valueFor: (model) => counters(model).requestSuccess,
    },
  ];
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const model of setup.models) {
      lines.push(
        `${family.name}{model_name="${escapeLabelValue(model)}"} ${family.valueFor(model)}`,
      );
    }
  }
  lines.push(
    '# HELP tokenbank_sim_info Simulator identity; the value is always 1.',
    '# TYPE tokenbank_sim_info gauge',
    `tokenbank_sim_info{region="${escapeLabelValue(setup.region)}",slots="${setup.slotCount}"} 1`,
  );
  return `${lines.join('\n')}\n`;
}

/** Prometheus text format: backslash, double quote and line feed are escaped in label values. */
function escapeLabelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}
