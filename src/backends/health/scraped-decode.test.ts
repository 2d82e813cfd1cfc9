import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from './prometheus-text.ts';
import { type DecodeTotalsByModel, interTokenMsSince } from './scraped-decode.ts';
import { loadMetricNames, readScrapedLoad } from './scraped-load.ts';

function decodingOf(lines: string[]): DecodeTotalsByModel {
  return readScrapedLoad(parsePrometheusText(lines.join('\n'), loadMetricNames)).decoding;
}

describe('decode totals of a metrics page', () => {
  it("reads vLLM's inter-token histogram per model, summed over engines", () => {
    expect(
      decodingOf([
        'vllm:num_requests_running{model_name="a",engine="0"} 1',
        'vllm:num_requests_waiting{model_name="a",engine="0"} 0',
        'vllm:inter_token_latency_seconds_sum{model_name="a",engine="0"} 1.5',
        'vllm:inter_token_latency_seconds_sum{model_name="a",engine="1"} 0.5',
        'vllm:inter_token_latency_seconds_count{model_name="a",engine="0"} 60',
        'vllm:inter_token_latency_seconds_count{model_name="a",engine="1"} 20',
        'vllm:time_per_output_token_seconds_sum{model_name="a",engine="0"} 99',
      ]),
    ).toEqual(new Map([['a', { seconds: 2, count: 80 }]]));
  });

  it("falls back to vLLM's older time per output token", () => {
    expect(
      decodingOf([
        'vllm:num_requests_running{model_name="a"} 1',
        'vllm:time_per_output_token_seconds_sum{model_name="a"} 3',
        'vllm:time_per_output_token_seconds_count{model_name="a"} 100',
      ]),
    ).toEqual(new Map([['a', { seconds: 3, count: 100 }]]));
  });

  it("reads SGLang's and TGI's histograms and llama.cpp's counters, unlabelled as ''", () => {
    expect(
      decodingOf([
        'sglang:num_running_reqs{model_name="s"} 2',
        'sglang:time_per_output_token_seconds_sum{model_name="s"} 0.4',
        'sglang:time_per_output_token_seconds_count{model_name="s"} 20',
      ]),
    ).toEqual(new Map([['s', { seconds: 0.4, count: 20 }]]));
    expect(
      decodingOf([
        'tgi_queue_size 0',
        'tgi_request_mean_time_per_token_duration_sum 1.2',
        'tgi_request_mean_time_per_token_duration_count 40',
      ]),
    ).toEqual(new Map([['', { seconds: 1.2, count: 40 }]]));
    expect(
      decodingOf([
        'llamacpp:requests_processing 1',
        'llamacpp:tokens_predicted_seconds_total 12',
        'llamacpp:tokens_predicted_total 600',
      ]),
    ).toEqual(new Map([['', { seconds: 12, count: 600 }]]));
  });

  it('is empty without both halves of a total', () => {
    expect(
      decodingOf([
        'vllm:num_requests_running{model_name="a"} 1',
        'vllm:inter_token_latency_seconds_sum{model_name="a"} 3',
      ]).size,
    ).toBe(0);
  });
});

describe('time between tokens since the previous scrape', () => {
  it('is the change of the seconds over the change of the count, per model', () => {
    const previous = new Map([
      ['a', { seconds: 2, count: 100 }],
      ['b', { seconds: 1, count: 10 }],
      ['c', { seconds: 5, count: 50 }],
    ]);
    const current = new Map([
      ['a', { seconds: 3, count: 150 }],
      // Nothing decoded since: no sample.
      ['b', { seconds: 1, count: 10 }],
      // A restart: the totals went down.
      ['c', { seconds: 0.5, count: 5 }],
      // New since the previous scrape: no baseline yet.
      ['d', { seconds: 1, count: 10 }],
    ]);
    expect(interTokenMsSince(previous, current)).toEqual(new Map([['a', 20]]));
  });
});
