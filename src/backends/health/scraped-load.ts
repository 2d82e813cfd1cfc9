/**
 * What a backend's `/metrics` page says about its load, under the names each inference server
 * uses (research/routing.md §1): requests running, requests waiting, and KV-cache use as a
 * fraction. vLLM's old `vllm:gpu_cache_usage_perc` is read when the new name is absent. A series
 * that is missing stays unknown, never 0: a router that reads "absent" as "idle" sends everything
 * to the backend whose exporter broke (production-stack's engine_stats.py does exactly that).
 * The page's decode-time totals come along (scraped-decode.ts).
 */
import type { PrometheusSample } from './prometheus-text.ts';
import {
  type DecodeTotalsByModel,
  decodeMetricNames,
  noDecodeTotals,
  readDecodeTotals,
} from './scraped-decode.ts';

export type MetricsEngine = 'vllm' | 'sglang' | 'tgi' | 'llamacpp' | 'trtllm';

export type ScrapedLoad = {
  /** Whose names the page used; undefined when it had none of them. */
  engine: MetricsEngine | undefined;
  running: number | undefined;
  waiting: number | undefined;
  /** 0 to 1. */
  kvCacheUsage: number | undefined;
  /** Running totals of decode time, for the time between tokens; empty when the page has none. */
  decoding: DecodeTotalsByModel;
};

type EngineNames = {
  engine: MetricsEngine;
  running: string;
  waiting: string;
  /** In order of preference: the current name first. */
  kvCacheUsage: readonly string[];
};

const engines: readonly EngineNames[] = [
  {
    engine: 'vllm',
    running: 'vllm:num_requests_running',
    waiting: 'vllm:num_requests_waiting',
    kvCacheUsage: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'],
  },
  {
    engine: 'sglang',
    running: 'sglang:num_running_reqs',
    waiting: 'sglang:num_queue_reqs',
    kvCacheUsage: ['sglang:token_usage'],
  },
  {
    engine: 'tgi',
    running: 'tgi_batch_current_size',
    waiting: 'tgi_queue_size',
    kvCacheUsage: [],
  },
  {
    engine: 'llamacpp',
    running: 'llamacpp:requests_processing',
    waiting: 'llamacpp:requests_deferred',
    kvCacheUsage: ['llamacpp:kv_cache_usage_ratio'],
  },
  {
    engine: 'trtllm',
    running: 'trtllm_num_requests_running',
    waiting: 'trtllm_num_requests_waiting',
    kvCacheUsage: ['trtllm_kv_cache_utilization'],
  },
];

/** Every family the reader looks at: the parser skips the rest of the page. */
export const loadMetricNames: ReadonlySet<string> = new Set([
  ...engines.flatMap((names) => [names.running, names.waiting, ...names.kvCacheUsage]),
  ...decodeMetricNames,
]);

export const unknownLoad: ScrapedLoad = {
  engine: undefined,
  running: undefined,
  waiting: undefined,
  kvCacheUsage: undefined,
  decoding: noDecodeTotals,
};

export function readScrapedLoad(samples: readonly PrometheusSample[]): ScrapedLoad {
  const byName = new Map<string, PrometheusSample[]>();
  for (const sample of samples) {
    const list = byName.get(sample.name);
    if (list) {
      list.push(sample);
    } else {
      byName.set(sample.name, [sample]);
    }
  }
  for (const names of engines) {
    const running = byName.get(names.running);
    const waiting = byName.get(names.waiting);
    if (running === undefined && waiting === undefined) {
      continue;
    }
    const kvName = names.kvCacheUsage.find((name) => byName.has(name));
    return {
      engine: names.engine,
      running: running && sumOf(running),
      waiting: waiting && sumOf(waiting),
      kvCacheUsage: kvName === undefined ? undefined : cacheUsageOf(byName.get(kvName) ?? []),
      decoding: readDecodeTotals(byName, names.engine),
    };
  }
  return unknownLoad;
}

/** Requests add up over every series: per engine (data-parallel ranks) and per model. */
function sumOf(samples: readonly PrometheusSample[]): number | undefined {
  let total = 0;
  for (const sample of samples) {
    if (!Number.isFinite(sample.value) || sample.value < 0) {
      return undefined;
    }
    total += sample.value;
  }
  return total;
}

/**
 * Each data-parallel engine has its own cache, so the server's usage is the mean over engines
 * (`engine` in vLLM, `dp_rank` in SGLang); series of one engine split by model add up.
 */
function cacheUsageOf(samples: readonly PrometheusSample[]): number | undefined {
  const byEngine = new Map<string, number>();
  for (const sample of samples) {
    if (!Number.isFinite(sample.value) || sample.value < 0) {
      return undefined;
    }
    const engine = sample.labels.engine ?? sample.labels.dp_rank ?? '';
    byEngine.set(engine, (byEngine.get(engine) ?? 0) + sample.value);
  }
  if (byEngine.size === 0) {
    return undefined;
  }
  let total = 0;
  for (const usage of byEngine.values()) {
    total += usage;
  }
  return Math.min(1, total / byEngine.size);
}
