/**
 * What each simulated backend's `/metrics` page says, read through the production reader: its
 * load and its decode-time totals, under vLLM's names by default; SGLang's names, vLLM's old KV-cache name, no page at all (404), or numbers
 * frozen at some moment when a scenario says so. Renamed pages go through the text parser, the
 * rest are handed to the reader as samples (same code, less work per scrape).
 */
import { parsePrometheusText } from '../../src/backends/health/prometheus-text.ts';
import {
  loadMetricNames,
  readScrapedLoad,
  type ScrapedLoad,
} from '../../src/backends/health/scraped-load.ts';
import type { FaultSpec } from './scenarios.ts';
import type { SimulatedBackend } from './simulated-backend.ts';

type Naming = 'vllm' | 'vllm-old' | 'sglang' | 'none';

export class MetricsPages {
  readonly #naming = new Map<string, Naming>();
  readonly #frozenFromMs = new Map<string, number>();
  readonly #frozen = new Map<string, ScrapedLoad>();

  constructor(faults: readonly FaultSpec[]) {
    for (const fault of faults) {
      if (fault.kind === 'renamed_metrics') {
        for (const id of fault.sglang) {
          this.#naming.set(id, 'sglang');
        }
        for (const id of fault.oldVllm) {
          this.#naming.set(id, 'vllm-old');
        }
        for (const id of fault.none) {
          this.#naming.set(id, 'none');
        }
      } else if (fault.kind === 'stale_metrics') {
        for (const id of fault.backendIds) {
          this.#frozenFromMs.set(id, fault.fromMs);
        }
      }
    }
  }

  /** The load the page shows now; undefined when the backend has no metrics page. */
  read(backend: SimulatedBackend, nowMs: number): ScrapedLoad | undefined {
    const frozenFromMs = this.#frozenFromMs.get(backend.id);
    if (frozenFromMs !== undefined && nowMs >= frozenFromMs) {
      const frozen = this.#frozen.get(backend.id) ?? this.#live(backend);
      if (frozen !== undefined) {
        this.#frozen.set(backend.id, frozen);
      }
      return frozen;
    }
    return this.#live(backend);
  }

  #live(backend: SimulatedBackend): ScrapedLoad | undefined {
    const naming = this.#naming.get(backend.id) ?? 'vllm';
    if (naming === 'none') {
      return undefined;
    }
    const load = backend.load();
    if (naming === 'vllm') {
      const labels = { model_name: 'm' };
      return readScrapedLoad([
        { name: 'vllm:num_requests_running', labels, value: load.running },
        { name: 'vllm:num_requests_waiting', labels, value: load.waiting },
        { name: 'vllm:kv_cache_usage_perc', labels, value: load.kvCacheUsage },
        { name: 'vllm:inter_token_latency_seconds_sum', labels, value: load.decodeSeconds },
        { name: 'vllm:inter_token_latency_seconds_count', labels, value: load.decodedTokens },
      ]);
    }
    const text =
      naming === 'sglang'
        ? [
            '# TYPE sglang:num_running_reqs gauge',
            `sglang:num_running_reqs{model_name="m",tp_rank="0"} ${load.running}`,
            `sglang:num_queue_reqs{model_name="m",tp_rank="0"} ${load.waiting}`,
            `sglang:token_usage{model_name="m",tp_rank="0"} ${load.kvCacheUsage}`,
            `sglang:time_per_output_token_seconds_sum{model_name="m"} ${load.decodeSeconds}`,
            `sglang:time_per_output_token_seconds_count{model_name="m"} ${load.decodedTokens}`,
          ]
        : [
            '# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.',
            `vllm:num_requests_running{model_name="m",engine="0"} ${load.running}`,
            `vllm:num_requests_waiting{model_name="m",engine="0"} ${load.waiting}`,
            `vllm:gpu_cache_usage_perc{model_name="m",engine="0"} ${load.kvCacheUsage}`,
            `vllm:time_per_output_token_seconds_sum{model_name="m"} ${load.decodeSeconds}`,
            `vllm:time_per_output_token_seconds_count{model_name="m"} ${load.decodedTokens}`,
          ];
    return readScrapedLoad(parsePrometheusText(text.join('\n'), loadMetricNames));
  }
}
