/**
 * What the latency-aware router learns from each attempt (DESIGN.md §5): from a stream's first
 * token, the prefill speed (when it did not queue) and how far the prediction was off; from the
 * end of a success, the time a request holds a slot, the time between two of its output tokens
 * and how long answers of the model are; from a failure, the failure rate and how long failures
 * take. Each backend learns per model, and each model keeps pool-wide figures for backends that
 * have no samples yet. The time between tokens is also learned from the backends' own decode
 * metrics, at each scrape, with the batch it was measured at (learnScrapedDecode).
 */
import { type BackendEstimates, modelEstimatesOf } from './backend-estimates.ts';
import { recordDecodeSample } from './batch-decode-line.ts';
import { decayFactor, movedAverage, recordRateSample } from './decaying-average.ts';
import type { ModelPrior } from './route-cost.ts';
import { residualHalfLifeMs } from './route-cost.ts';
import type { AttemptOutcome, RouteAttempt } from './router.ts';

/** A model's pool-wide figures as learned so far; undefined until the first sample. */
export type ModelPriorState = {
  serviceMs: number | undefined;
  prefillTokensPerSecond: number | undefined;
  firstTokenMs: number | undefined;
  residualLog: number | undefined;
  interTokenMs: number | undefined;
  outputTokens: number | undefined;
};

/**
 * Before any sample: a modest GPU (research/routing.md §7.2 calibration targets), 50 tokens/s
 * per answer, answers of 256 tokens.
 */
const priorDefaults: ModelPrior = {
  serviceMs: 2_000,
  prefillTokensPerSecond: 4_000,
  firstTokenMs: 500,
  residualLog: 0,
  interTokenMs: 20,
  outputTokens: 256,
};

/** Weights of a new sample: per backend, and (slower) for the pool-wide figures. */
const backendWeight = 0.1;
const poolWeight = 0.05;
const failureLatencyWeight = 0.2;
/** The residual rises fast and falls slowly, like PeakEWMA: a backend turning slow shows at once. */
const residualWeightUp = 0.3;
const residualWeightDown = 0.1;
const residualLogMax = 3;
/** Shorter prompts say more about fixed overheads than about prefill speed. */
const prefillSamplePromptTokensMin = 16;
/** An answer of one token has no time between tokens to measure. */
const interTokenSampleTokensMin = 2;

export function createModelPriorState(): ModelPriorState {
  return {
    serviceMs: undefined,
    prefillTokensPerSecond: undefined,
    firstTokenMs: undefined,
    residualLog: undefined,
    interTokenMs: undefined,
    outputTokens: undefined,
  };
}

export function priorOf(state: ModelPriorState | undefined): ModelPrior {
  return {
    serviceMs: state?.serviceMs ?? priorDefaults.serviceMs,
    prefillTokensPerSecond: state?.prefillTokensPerSecond ?? priorDefaults.prefillTokensPerSecond,
    firstTokenMs: state?.firstTokenMs ?? priorDefaults.firstTokenMs,
    residualLog: state?.residualLog ?? priorDefaults.residualLog,
    interTokenMs: state?.interTokenMs ?? priorDefaults.interTokenMs,
    outputTokens: state?.outputTokens ?? priorDefaults.outputTokens,
  };
}

export function learnFromAttempt(
  attempt: RouteAttempt,
  outcome: AttemptOutcome,
  prior: ModelPriorState,
  failureHalfLifeMs: number,
): void {
  const estimates = attempt.backend.estimates;
  if (outcome.kind !== 'done' && attempt.firstTokenAtMs === undefined) {
    // The attempt's prompt is no longer waiting for prefill (it has its first token, or ended).
    estimates.pendingPrefillTokens = Math.max(
      0,
      estimates.pendingPrefillTokens - (attempt.request.promptTokens ?? 0),
    );
  }
  switch (outcome.kind) {
    case 'first_token':
      attempt.firstTokenAtMs = outcome.atMs;
      recordRateSample(estimates.failures, false, outcome.atMs, failureHalfLifeMs);
      if (attempt.request.stream) {
        learnFirstToken(attempt, outcome.atMs, prior);
      }
      return;
    case 'done':
      learnServiceTime(attempt, outcome.atMs, prior);
      learnDecode(attempt, outcome.atMs, outcome.outputTokens, prior);
      return;
    case 'failed':
      recordRateSample(estimates.failures, true, outcome.atMs, failureHalfLifeMs);
      estimates.failureLatencyMs = movedAverage(
        estimates.failureLatencyMs,
        outcome.atMs - attempt.dispatchedAtMs,
        failureLatencyWeight,
      );
      return;
    case 'abandoned':
      return;
  }
}

function learnFirstToken(attempt: RouteAttempt, atMs: number, prior: ModelPriorState): void {
  const firstTokenMs = atMs - attempt.dispatchedAtMs;
  const model = modelEstimatesOf(attempt.backend.estimates, attempt.request.model);
  model.firstTokenCount += 1;
  prior.firstTokenMs = movedAverage(prior.firstTokenMs, firstTokenMs, poolWeight);
  const predicted = attempt.predictedTtftMs;
  if (predicted !== undefined && predicted > 0 && firstTokenMs > 0) {
    const sample = Math.max(
      -residualLogMax,
      Math.min(residualLogMax, Math.log(firstTokenMs / predicted)),
    );
    const current = model.residualLog * decayFactor(atMs - model.residualAtMs, residualHalfLifeMs);
    const weight = sample > current ? residualWeightUp : residualWeightDown;
    model.residualLog = current + weight * (sample - current);
    model.residualAtMs = atMs;
    prior.residualLog = movedAverage(prior.residualLog, sample, poolWeight);
  }
  const promptTokens = attempt.request.promptTokens ?? 0;
  if (!attempt.queuedAtDispatch && promptTokens >= prefillSamplePromptTokensMin) {
    const prefillMs = Math.max(1, firstTokenMs - (attempt.backend.estimates.rttMs ?? 0));
    const rate = (promptTokens * 1000) / prefillMs;
    model.prefillTokensPerSecond = movedAverage(model.prefillTokensPerSecond, rate, backendWeight);
    prior.prefillTokensPerSecond = movedAverage(prior.prefillTokensPerSecond, rate, poolWeight);
  }
}

/**
 * A slot is held from prefill to the last token: for a stream, the decode time seen plus the
 * prefill time estimated; for a buffered answer, the whole exchange less the round trip, when it
 * did not queue first.
 */
function learnServiceTime(attempt: RouteAttempt, atMs: number, prior: ModelPriorState): void {
  const estimates = attempt.backend.estimates;
  const model = modelEstimatesOf(estimates, attempt.request.model);
  let serviceMs: number;
  if (attempt.request.stream && attempt.firstTokenAtMs !== undefined) {
    const prefillRate = model.prefillTokensPerSecond ?? priorOf(prior).prefillTokensPerSecond;
    serviceMs =
      atMs - attempt.firstTokenAtMs + ((attempt.request.promptTokens ?? 0) * 1000) / prefillRate;
  } else if (!attempt.request.stream && !attempt.queuedAtDispatch) {
    serviceMs = atMs - attempt.dispatchedAtMs - (estimates.rttMs ?? 0);
  } else {
    return;
  }
  serviceMs = Math.max(1, serviceMs);
  model.serviceMs = movedAverage(model.serviceMs, serviceMs, backendWeight);
  prior.serviceMs = movedAverage(prior.serviceMs, serviceMs, poolWeight);
}

/**
 * From an answer's output tokens: the model's answer length, and the backend's time between two
 * tokens, from the time it spent after its first one (a stream) or after its prefill (a JSON
 * answer that did not queue, with the round trip and the prefill estimated away).
 */
function learnDecode(
  attempt: RouteAttempt,
  atMs: number,
  outputTokens: number | undefined,
  prior: ModelPriorState,
): void {
  if (outputTokens === undefined || outputTokens <= 0) {
    return;
  }
  prior.outputTokens = movedAverage(prior.outputTokens, outputTokens, poolWeight);
  const decodeMs = decodeTimeOf(attempt, atMs, prior);
  if (decodeMs === undefined || outputTokens < interTokenSampleTokensMin) {
    return;
  }
  const interTokenMs = decodeMs / outputTokens;
  const model = modelEstimatesOf(attempt.backend.estimates, attempt.request.model);
  model.interTokenMs = movedAverage(model.interTokenMs, interTokenMs, backendWeight);
  prior.interTokenMs = movedAverage(prior.interTokenMs, interTokenMs, poolWeight);
}

function decodeTimeOf(
  attempt: RouteAttempt,
  atMs: number,
  prior: ModelPriorState,
): number | undefined {
  if (attempt.request.stream) {
    return attempt.firstTokenAtMs === undefined ? undefined : atMs - attempt.firstTokenAtMs;
  }
  if (attempt.queuedAtDispatch) {
    return undefined;
  }
  const estimates = attempt.backend.estimates;
  const prefillRate =
    estimates.byModel.get(attempt.request.model)?.prefillTokensPerSecond ??
    priorOf(prior).prefillTokensPerSecond;
  const decodeMs =
    atMs -
    attempt.dispatchedAtMs -
    (estimates.rttMs ?? 0) -
    ((attempt.request.promptTokens ?? 0) * 1000) / prefillRate;
  return decodeMs > 0 ? decodeMs : undefined;
}

/**
 * A time between tokens the backend's metrics reported for a model, averaged over the answers
 * it decoded since the previous scrape, and the batch it was decoded at when known: the average
 * learns from every sample, the line against the batch from those with one.
 */
export function learnScrapedDecode(
  estimates: BackendEstimates,
  model: string,
  sample: { interTokenMs: number; batch: number | undefined },
  atMs: number,
): void {
  const learned = modelEstimatesOf(estimates, model);
  learned.interTokenMs = movedAverage(learned.interTokenMs, sample.interTokenMs, backendWeight);
  if (sample.batch !== undefined) {
    recordDecodeSample(learned.decodeLine, sample.batch, sample.interTokenMs, atMs);
  }
}
