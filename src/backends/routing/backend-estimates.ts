/**
 * What the router has learned about one backend from the gateway's own observations (DESIGN.md
 * §5): network round trip, failure rate and how long failures take, and per model the time a
 * request holds a slot, the prefill speed, the time between two output tokens, and how far its
 * time-to-first-token predictions were off. Unknown stays undefined until a sample arrives; the cost model then uses the model's
 * pool-wide figures instead of a made-up number.
 */
import { type BatchDecodeLine, createBatchDecodeLine } from './batch-decode-line.ts';
import { createDecayingRate, type DecayingRate } from './decaying-average.ts';

export type ModelEstimates = {
  /** Time a request holds a slot: prefill plus decode. */
  serviceMs: number | undefined;
  prefillTokensPerSecond: number | undefined;
  /**
   * Time between two output tokens of one answer, from the streams the gateway relayed and the
   * decode times the backend's metrics report.
   */
  interTokenMs: number | undefined;
  /** The time between tokens against the batch, from the backend's metrics (batch-decode-line.ts). */
  decodeLine: BatchDecodeLine;
  /** Average of log(observed / predicted) first-token time: the correction the model needs. */
  residualLog: number;
  residualAtMs: number;
  firstTokenCount: number;
};

export type BackendEstimates = {
  /** Round trip of a small HTTP exchange (the metrics scrape). */
  rttMs: number | undefined;
  failures: DecayingRate;
  /** How long failed attempts took: a backend failing in 5 ms is not a fast backend. */
  failureLatencyMs: number | undefined;
  byModel: Map<string, ModelEstimates>;
  /** When this gateway last sent it an attempt; 0 for never. */
  lastAttemptAtMs: number;
  /** Prompt tokens of this gateway's attempts there that have no first token yet. */
  pendingPrefillTokens: number;
};

export function createBackendEstimates(): BackendEstimates {
  return {
    rttMs: undefined,
    failures: createDecayingRate(),
    failureLatencyMs: undefined,
    byModel: new Map(),
    lastAttemptAtMs: 0,
    pendingPrefillTokens: 0,
  };
}

export function createModelEstimates(): ModelEstimates {
  return {
    serviceMs: undefined,
    prefillTokensPerSecond: undefined,
    interTokenMs: undefined,
    decodeLine: createBatchDecodeLine(),
    residualLog: 0,
    residualAtMs: 0,
    firstTokenCount: 0,
  };
}

/** The estimates of one model on the backend, created on first use. */
export function modelEstimatesOf(estimates: BackendEstimates, model: string): ModelEstimates {
  let found = estimates.byModel.get(model);
  if (found === undefined) {
    found = createModelEstimates();
    estimates.byModel.set(model, found);
  }
  return found;
}
