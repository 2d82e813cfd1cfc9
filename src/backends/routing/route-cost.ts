/**
 * The cost model of DESIGN.md §5: the time a client would wait on a backend for its whole answer
 * (the first token, then the rest at the backend's pace), plus the expected price of its
 * failures. Pure arithmetic over a backend's state; the router decides which backends to price
 * and what to do with the numbers.
 *
 *   occupancy = scraped running + waiting + the gateways' dispatches since, or without a fresh
 *               scrape the gateways' in-flight count (this one's x replicas when peers are unheard)
 *   batch     = slots, or what the server runs while requests wait (the KV cache binds first)
 *   queued    = max(0, occupancy + 1 - batch)
 *   prefill   = (prompt + prompts sent here still without a first token) / prefill rate
 *   first     = rtt + (queued x service / batch + prefill) x kv pressure x e^residual
 *   output    = min(max_tokens, the model's average output)
 *   decoding  = min(occupancy, batch)
 *   decode    = output x (base + perSequence x (decoding + 1))   (the backend's decode line,
 *               batch-decode-line.ts; its average inter-token latency until the line is fitted)
 *   others    = decoding x (min(prompt, 1,024) / prefill rate + output x perSequence / 2)
 *   behind    = 9 x queued x service / batch   (the wait a queued request adds to later ones)
 *   penalty   = odds(failure rate) x (failure time + first token at the best other candidate)
 *   cost      = first + behind + weight x (decode + others) + penalty
 *
 * The weight is 1 for a JSON answer (its client waits for the last token) and less for a stream,
 * whose client reads from the first token on and cares most about it; a backend that decodes 13
 * times slower still costs a stream client seconds on a long answer.
 */

import type { PooledBackend } from '../backend-pool.ts';
import { batchNowOf, freshScrapedLoad, occupancyOf } from './backend-load.ts';
import type { DecodeLineFit } from './batch-decode-line.ts';
import { decayFactor, rateOf } from './decaying-average.ts';
import type { RouteRequest } from './router.ts';

/** The model's figures over the whole pool: what a backend without its own samples is taken for. */
export type ModelPrior = {
  serviceMs: number;
  prefillTokensPerSecond: number;
  /** First-token time clients saw recently, anywhere: the cost of a retry. */
  firstTokenMs: number;
  /** The prediction's correction over the pool; a backend without samples starts from it. */
  residualLog: number;
  /** Time between two output tokens over the pool: a backend without samples is taken for it. */
  interTokenMs: number;
  /** Output tokens per choice of the model's answers, on average. */
  outputTokens: number;
};

export type CostSettings = {
  metricsStaleMs: number;
  failureHalfLifeMs: number;
  /** Count this gateway's dispatches since the scrape (off only for the benchmark's ablation). */
  correctScrapedLoad: boolean;
  /** Share of the decode time a stream's cost counts, in basis points (a JSON answer's: all). */
  streamDecodeWeightBps: number;
  /** Count what a request costs the answers already on the backend (off only for an ablation). */
  delayToOthers: boolean;
  /** Gateways routing to these backends now, this one included (backend-load.ts occupancyOf). */
  replicaCount: number;
};

/** Above this KV-cache use the server starts preempting: waits grow (research/routing.md §6.2). */
const kvPressureKnee = 0.85;
const kvPressureSlope = 2;
/** The residual fades towards 0 with this half-life when no first token refreshes it. */
export const residualHalfLifeMs = 10_000;
/**
 * Of a new answer's tokens, the share an answer already decoding still has ahead of it and so
 * decodes alongside: half, the mean of where a uniformly placed answer stands.
 */
const sharedTokensShare = 0.5;
/**
 * A prompt's prefill is counted against the others up to this many tokens. Long prompts are the
 * ones a first-token p99 is made of: counting all of their stall, or a whole chunk of 2,048,
 * sent them to idle slow prefillers (routing benchmark: first token at p99 0.88-1.06x
 * least-in-flight's); 512 gave back a share of the whole-answer gain.
 */
const prefillStallTokensMax = 1_024;
/**
 * A request that queues delays the ones arriving behind it until the backlog clears: at
 * utilisation u about u / (1 - u) times its own wait (the marginal wait of a single queue). At
 * u = 0.9, the highest load the router is judged at, that is 9.
 */
const queuedBehindFactor = 9;
/** A failure rate above this is read as this: the odds stay finite. */
const failureRateMax = 0.9;
/** One success's worth of doubt: a single failure reads as a 50% rate, not 100%. */
const failurePriorSamples = 1;

/** A backend's load as the cost model reads it, worked out once per decision and candidate. */
export type LoadNow = {
  occupancy: number;
  batch: number;
  /** Unknown (or stale) KV use is no pressure: nothing suggests preemption. */
  kvPressure: number;
};

export function loadNowOf(backend: PooledBackend, nowMs: number, settings: CostSettings): LoadNow {
  return {
    occupancy: occupancyFor(backend, nowMs, settings),
    batch: batchNowOf(backend, nowMs, settings.metricsStaleMs),
    kvPressure: kvPressure(backend, nowMs, settings.metricsStaleMs),
  };
}

export function predictTtftMs(
  backend: PooledBackend,
  request: RouteRequest,
  prior: ModelPrior,
  nowMs: number,
  settings: CostSettings,
  load = loadNowOf(backend, nowMs, settings),
): number {
  const model = backend.estimates.byModel.get(request.model);
  const prefillRate = model?.prefillTokensPerSecond ?? prior.prefillTokensPerSecond;
  // Prompts sent here and not yet prefilled go first: chunked prefill serves them in order.
  const prefillTokens = (request.promptTokens ?? 0) + backend.estimates.pendingPrefillTokens;
  const waitMs = queueWaitMs(backend, request, prior, load) + (prefillTokens * 1000) / prefillRate;
  const residual =
    model === undefined || model.firstTokenCount === 0
      ? prior.residualLog
      : model.residualLog * decayFactor(nowMs - model.residualAtMs, residualHalfLifeMs);
  return (backend.estimates.rttMs ?? 0) + waitMs * load.kvPressure * Math.exp(residual);
}

/** The wait for a slot: a share of the service time for each request ahead (this one included). */
function queueWaitMs(
  backend: PooledBackend,
  request: RouteRequest,
  prior: ModelPrior,
  load: LoadNow,
): number {
  const queued = Math.max(0, load.occupancy + 1 - load.batch);
  if (queued === 0) {
    return 0;
  }
  const serviceMs = backend.estimates.byModel.get(request.model)?.serviceMs ?? prior.serviceMs;
  return (queued * serviceMs) / load.batch;
}

/** What queueing here adds to the requests arriving behind this one (0 without a queue). */
export function queueDelayToOthersMs(
  backend: PooledBackend,
  request: RouteRequest,
  prior: ModelPrior,
  nowMs: number,
  settings: CostSettings,
  load = loadNowOf(backend, nowMs, settings),
): number {
  return settings.delayToOthers
    ? queuedBehindFactor * queueWaitMs(backend, request, prior, load)
    : 0;
}

/**
 * The backend's occupancy; the ablation without correction reads a fresh scrape as it is (an
 * unmeasured backend is counted the same way either way).
 */
export function occupancyFor(
  backend: PooledBackend,
  nowMs: number,
  settings: CostSettings,
): number {
  const scraped = settings.correctScrapedLoad
    ? undefined
    : freshScrapedLoad(backend.load, nowMs, settings.metricsStaleMs);
  return scraped === undefined
    ? occupancyOf(backend, nowMs, settings.metricsStaleMs, settings.replicaCount)
    : (scraped.running ?? 0) + (scraped.waiting ?? 0);
}

/** Unknown KV use is no pressure: nothing suggests preemption. */
function kvPressure(backend: PooledBackend, nowMs: number, staleMs: number): number {
  const usage = freshScrapedLoad(backend.load, nowMs, staleMs)?.kvCacheUsage;
  if (usage === undefined || usage < kvPressureKnee) {
    return 1;
  }
  return 1 + (kvPressureSlope * (usage - kvPressureKnee)) / (1 - kvPressureKnee);
}

/**
 * Expected extra time from failures: with failure rate p, a request needs p / (1 - p) failed
 * tries on average, each costing its own duration and then a first token elsewhere (`retryMs`:
 * the best other candidate's prediction). A backend that answers 503 in 5 ms therefore costs a
 * full retry per failure and never looks fast (the PeakEWMA trap, linkerd2-proxy PR #4537).
 */
export function failurePenaltyMs(
  backend: PooledBackend,
  retryMs: number,
  nowMs: number,
  settings: CostSettings,
): number {
  const rate = Math.min(
    rateOf(backend.estimates.failures, nowMs, settings.failureHalfLifeMs, failurePriorSamples),
    failureRateMax,
  );
  if (rate <= 0) {
    return 0;
  }
  return (rate / (1 - rate)) * ((backend.estimates.failureLatencyMs ?? 0) + retryMs);
}

/** Output tokens the request is expected to produce: its cap, or the model's average when lower. */
export function expectedOutputTokens(request: RouteRequest, prior: ModelPrior): number {
  const asked = request.outputTokensAsked;
  return asked === undefined ? prior.outputTokens : Math.min(asked, prior.outputTokens);
}

/**
 * The part of the answer after its first token, weighted for the client, and what the request
 * costs the answers decoding on the backend already (delayToOthersMs), weighted alike: the router
 * prices the time a request adds to everyone's answers, not only to its own, which is what a
 * router balancing in-flight counts gets right by construction at high load.
 */
export function weightedDecodeMs(
  backend: PooledBackend,
  request: RouteRequest,
  outputTokens: number,
  prior: ModelPrior,
  nowMs: number,
  settings: CostSettings,
  load = loadNowOf(backend, nowMs, settings),
): number {
  const model = backend.estimates.byModel.get(request.model);
  const fit = model?.decodeLine.fit;
  const decoding = Math.min(load.occupancy, load.batch);
  const ownMs =
    fit === undefined
      ? outputTokens * (model?.interTokenMs ?? prior.interTokenMs)
      : outputTokens * (fit.baseMs + fit.perSequenceMs * (decoding + 1));
  const othersMs = settings.delayToOthers
    ? delayToOthersMs(
        request,
        outputTokens,
        decoding,
        fit,
        model?.prefillTokensPerSecond ?? prior.prefillTokensPerSecond,
      )
    : 0;
  const decodeMs = ownMs + othersMs;
  return request.stream ? (decodeMs * settings.streamDecodeWeightBps) / 10_000 : decodeMs;
}

/**
 * The time the request adds to the answers `decoding` on the backend: its prompt's prefill
 * stalls each of their decode steps (chunked prefill runs in the same steps), and while it
 * decodes, each of their tokens takes the decode line's slope longer for the tokens they share
 * with it. Without a fitted line the slope is taken as 0.
 */
export function delayToOthersMs(
  request: RouteRequest,
  outputTokens: number,
  decoding: number,
  fit: DecodeLineFit | undefined,
  prefillTokensPerSecond: number,
): number {
  const stalledTokens = Math.min(request.promptTokens ?? 0, prefillStallTokensMax);
  const prefillMs = (stalledTokens * 1000) / prefillTokensPerSecond;
  const slowerMs = outputTokens * (fit?.perSequenceMs ?? 0) * sharedTokensShare;
  return decoding * (prefillMs + slowerMs);
}
