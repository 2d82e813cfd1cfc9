import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from './prometheus-text.ts';
import { type DecodeTotalsByModel, decodeSamplesSince } from './scraped-decode.ts';
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
    ).toEqual(new Map([['a', { seconds: 2, count: 80, perToken: true }]]));
  });

  it("falls back to vLLM's older time per output token", () => {
    expect(
      decodingOf([
        'vllm:num_requests_running{model_name="a"} 1',
        'vllm:time_per_output_token_seconds_sum{model_name="a"} 3',
        'vllm:time_per_output_token_seconds_count{model_name="a"} 100',
      ]),
    ).toEqual(new Map([['a', { seconds: 3, count: 100, perToken: true }]]));
  });

  it("reads SGLang's and TGI's histograms and llama.cpp's counters, unlabelled as ''", () => {
    expect(
      decodingOf([
        'sglang:num_running_reqs{model_name="s"} 2',
        'sglang:time_per_output_token_seconds_sum{model_name="s"} 0.4',
        'sglang:time_per_output_token_seconds_count{model_name="s"} 20',
      ]),
    ).toEqual(new Map([['s', { seconds: 0.4, count: 20, perToken: false }]]));
    expect(
      decodingOf([
        'tgi_queue_size 0',
        'tgi_request_mean_time_per_token_duration_sum 1.2',
        'tgi_request_mean_time_per_token_duration_count 40',
      ]),
    ).toEqual(new Map([['', { seconds: 1.2, count: 40, perToken: false }]]));
    expect(
      decodingOf([
        'llamacpp:requests_processing 1',
        'llamacpp:tokens_predicted_seconds_total 12',
        'llamacpp:tokens_predicted_total 600',
      ]),
    ).toEqual(new Map([['', { seconds: 12, count: 600, perToken: true }]]));
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

describe('decode samples since the previous scrape', () => {
  const totals = (seconds: number, count: number, perToken = true) => ({
    seconds,
    count,
    perToken,
  });

  it('is the change of the seconds over the change of the count, per model', () => {
    const previous = new Map([
      ['a', totals(2, 100)],
      ['b', totals(1, 10)],
      ['c', totals(5, 50)],
    ]);
    const current = new Map([
      ['a', totals(3, 150)],
      // Nothing decoded since: no sample.
      ['b', totals(1, 10)],
      // A restart: the totals went down.
      ['c', totals(0.5, 5)],
      // New since the previous scrape: no baseline yet.
      ['d', totals(1, 10)],
    ]);
    // One second of decoding in 250 ms of wall time: four sequences at once, on average.
    expect(decodeSamplesSince(previous, current, 250)).toEqual(
      new Map([['a', { interTokenMs: 20, batch: 4 }]]),
    );
  });

  it('reads no batch from per-answer means or without the time between the scrapes', () => {
    const previous = new Map([['a', totals(2, 100, false)]]);
    const current = new Map([['a', totals(3, 150, false)]]);
    expect(decodeSamplesSince(previous, current, 250).get('a')?.batch).toBeUndefined();
    const perToken = new Map([['a', totals(3, 150)]]);
    expect(decodeSamplesSince(previous, perToken, undefined).get('a')?.batch).toBeUndefined();
  });
});
