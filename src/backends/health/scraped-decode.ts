/**
 * How fast a backend decodes, from its `/metrics` page: each server keeps a running total of
 * decode time and of what it was spent on (research/routing.md §1), as a histogram's `_sum` and
 * `_count` or as two counters, so the time between two output tokens since the previous scrape is
 * the change of one over the change of the other. Totals are per `model_name` label ('' when the
 * server does not label them) and summed over data-parallel engines. A total that went down (the
 * server restarted) teaches nothing.
 */
import type { PrometheusSample } from './prometheus-text.ts';
import type { MetricsEngine } from './scraped-load.ts';

/**
 * Seconds of decoding, and the tokens (or answers, for per-answer means) they were spent on.
 * `perToken`: each token's time was added, so the seconds grow by the number of sequences
 * decoding per second of wall time (vLLM's and llama.cpp's totals; SGLang's and TGI's add one
 * mean per answer).
 */
export type DecodeTotals = { seconds: number; count: number; perToken: boolean };

/** By `model_name` label, '' for series without one. */
export type DecodeTotalsByModel = ReadonlyMap<string, DecodeTotals>;

type TotalNames = { seconds: string; count: string; perToken: boolean };

const histogram = (name: string, perToken: boolean): TotalNames => ({
  seconds: `${name}_sum`,
  count: `${name}_count`,
  perToken,
});

/**
 * Per engine, in order of preference. vLLM's inter-token histogram replaced its time per output
 * token; SGLang's and TGI's are means per answer; llama.cpp counts tokens and their seconds.
 */
const decodeNamesByEngine: Record<MetricsEngine, readonly TotalNames[]> = {
  vllm: [
    histogram('vllm:inter_token_latency_seconds', true),
    histogram('vllm:time_per_output_token_seconds', true),
  ],
  sglang: [histogram('sglang:time_per_output_token_seconds', false)],
  tgi: [histogram('tgi_request_mean_time_per_token_duration', false)],
  llamacpp: [
    {
      seconds: 'llamacpp:tokens_predicted_seconds_total',
      count: 'llamacpp:tokens_predicted_total',
      perToken: true,
    },
  ],
  trtllm: [],
};

/** Every family this file reads, for the page parser's filter. */
export const decodeMetricNames: ReadonlySet<string> = new Set(
  Object.values(decodeNamesByEngine).flatMap((list) =>
    list.flatMap((names) => [names.seconds, names.count]),
  ),
);

export const noDecodeTotals: DecodeTotalsByModel = new Map();

export function readDecodeTotals(
  byName: ReadonlyMap<string, readonly PrometheusSample[]>,
  engine: MetricsEngine,
): DecodeTotalsByModel {
  for (const names of decodeNamesByEngine[engine]) {
    const seconds = byName.get(names.seconds);
    const count = byName.get(names.count);
    if (seconds !== undefined && count !== undefined) {
      return totalsByModel(seconds, count, names.perToken);
    }
  }
  return noDecodeTotals;
}

function totalsByModel(
  seconds: readonly PrometheusSample[],
  count: readonly PrometheusSample[],
  perToken: boolean,
): DecodeTotalsByModel {
  const totals = new Map<string, DecodeTotals>();
  const add = (sample: PrometheusSample, field: 'seconds' | 'count') => {
    if (!Number.isFinite(sample.value) || sample.value < 0) {
      return;
    }
    const model = sample.labels.model_name ?? '';
    const entry = totals.get(model) ?? { seconds: 0, count: 0, perToken };
    entry[field] += sample.value;
    totals.set(model, entry);
  };
  for (const sample of seconds) {
    add(sample, 'seconds');
  }
  for (const sample of count) {
    add(sample, 'count');
  }
  return totals;
}

/**
 * What was decoded between two scrapes: the time between two tokens, and, from per-token totals
 * `elapsedMs` apart, the sequences decoding at once on average (decode seconds per second).
 */
export type DecodeSample = { interTokenMs: number; batch: number | undefined };

/** Per model label, over what was decoded between two scrapes. */
export function decodeSamplesSince(
  previous: DecodeTotalsByModel,
  current: DecodeTotalsByModel,
  elapsedMs: number | undefined,
): Map<string, DecodeSample> {
  const samples = new Map<string, DecodeSample>();
  for (const [model, now] of current) {
    const before = previous.get(model);
    if (before === undefined) {
      continue;
    }
    const count = now.count - before.count;
    const seconds = now.seconds - before.seconds;
    if (count > 0 && seconds > 0) {
      const timed = now.perToken && elapsedMs !== undefined && elapsedMs > 0;
      samples.set(model, {
        interTokenMs: (seconds * 1000) / count,
        batch: timed ? (seconds * 1000) / elapsedMs : undefined,
      });
    }
  }
  return samples;
}
