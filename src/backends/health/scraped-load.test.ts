import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from './prometheus-text.ts';
import { noDecodeTotals } from './scraped-decode.ts';
import { loadMetricNames, readScrapedLoad, type ScrapedLoad } from './scraped-load.ts';

function read(lines: string[]): ScrapedLoad {
  return readScrapedLoad(parsePrometheusText(lines.join('\n'), loadMetricNames));
}

describe('readScrapedLoad', () => {
  it.each<{ name: string; lines: string[]; expected: ScrapedLoad }>([
    {
      name: 'vLLM with the current KV name',
      lines: [
        'vllm:num_requests_running{model_name="m"} 5',
        'vllm:num_requests_waiting{model_name="m"} 2',
        'vllm:kv_cache_usage_perc{model_name="m"} 0.5',
      ],
      expected: {
        engine: 'vllm',
        running: 5,
        waiting: 2,
        kvCacheUsage: 0.5,
        decoding: noDecodeTotals,
      },
    },
    {
      name: 'vLLM before 0.11, with only the old KV name',
      lines: [
        'vllm:num_requests_running{model_name="m"} 1',
        'vllm:num_requests_waiting{model_name="m"} 0',
        'vllm:gpu_cache_usage_perc{model_name="m"} 0.25',
      ],
      expected: {
        engine: 'vllm',
        running: 1,
        waiting: 0,
        kvCacheUsage: 0.25,
        decoding: noDecodeTotals,
      },
    },
    {
      name: 'vLLM data-parallel: requests add up, the cache is the mean over engines',
      lines: [
        'vllm:num_requests_running{model_name="m",engine="0"} 3',
        'vllm:num_requests_running{model_name="m",engine="1"} 4',
        'vllm:num_requests_waiting{model_name="m",engine="0"} 1',
        'vllm:num_requests_waiting{model_name="m",engine="1"} 0',
        'vllm:kv_cache_usage_perc{model_name="m",engine="0"} 0.2',
        'vllm:kv_cache_usage_perc{model_name="m",engine="1"} 0.6',
      ],
      expected: {
        engine: 'vllm',
        running: 7,
        waiting: 1,
        kvCacheUsage: 0.4,
        decoding: noDecodeTotals,
      },
    },
    {
      name: 'one engine split by model (the simulator): the cache shares add up',
      lines: [
        'vllm:num_requests_running{model_name="a"} 1',
        'vllm:num_requests_running{model_name="b"} 2',
        'vllm:num_requests_waiting{model_name="a"} 0',
        'vllm:num_requests_waiting{model_name="b"} 0',
        'vllm:kv_cache_usage_perc{model_name="a"} 0.125',
        'vllm:kv_cache_usage_perc{model_name="b"} 0.25',
      ],
      expected: {
        engine: 'vllm',
        running: 3,
        waiting: 0,
        kvCacheUsage: 0.375,
        decoding: noDecodeTotals,
      },
    },
    {
      name: 'SGLang',
      lines: [
        'sglang:num_running_reqs{tp_rank="0"} 8',
        'sglang:num_queue_reqs{tp_rank="0"} 3',
        'sglang:token_usage{tp_rank="0"} 0.9',
      ],
      expected: {
        engine: 'sglang',
        running: 8,
        waiting: 3,
        kvCacheUsage: 0.9,
        decoding: noDecodeTotals,
      },
    },
    {
      name: 'TGI, which has no KV gauge',
      lines: ['tgi_batch_current_size 4', 'tgi_queue_size 6'],
      expected: {
        engine: 'tgi',
        running: 4,
        waiting: 6,
        kvCacheUsage: undefined,
        decoding: noDecodeTotals,
      },
    },
    {
      name: 'llama.cpp without the optional KV ratio',
      lines: ['llamacpp:requests_processing 2', 'llamacpp:requests_deferred 1'],
      expected: {
        engine: 'llamacpp',
        running: 2,
        waiting: 1,
        kvCacheUsage: undefined,
        decoding: noDecodeTotals,
      },
    },
    {
      name: 'a missing waiting gauge is unknown, not 0',
      lines: ['vllm:num_requests_running{model_name="m"} 5'],
      expected: {
        engine: 'vllm',
        running: 5,
        waiting: undefined,
        kvCacheUsage: undefined,
        decoding: noDecodeTotals,
      },
    },
    {
      name: 'a negative or NaN count is unknown',
      lines: ['vllm:num_requests_running -1', 'vllm:num_requests_waiting 2'],
      expected: {
        engine: 'vllm',
        running: undefined,
        waiting: 2,
        kvCacheUsage: undefined,
        decoding: noDecodeTotals,
      },
    },
    {
      name: 'a page with none of the names',
      lines: ['process_cpu_seconds_total 12', 'vllm:prompt_tokens_total 100'],
      expected: {
        engine: undefined,
        running: undefined,
        waiting: undefined,
        kvCacheUsage: undefined,
        decoding: noDecodeTotals,
      },
    },
  ])('$name', ({ lines, expected }) => {
    expect(read(lines)).toEqual(expected);
  });
});
