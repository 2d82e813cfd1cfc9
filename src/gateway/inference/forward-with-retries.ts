/**
 * Sends a request to the backend picked by the router, and to another one when the first fails
 * before anything reached the client: connection failures, timeouts, 5xx and 429 answers, and a
 * stream whose first token misses its per-try deadline. Retries go to backends not tried yet and
 * only while the retry budget allows. A stream's first chunk is read inside the attempt, so a
 * backend that answers headers and then nothing is still retried. The first pick waits in the
 * capacity queue, up to its deadline, when every candidate is full.
 */

import { startAttempt, type TrackedAttempt } from '../../backends/attempt-tracker.ts';
import type { PooledBackend } from '../../backends/backend-pool.ts';
import {
  failureOfStatus,
  failureOfUpstreamError,
  firstTokenDeadlineMs,
  isRetryableStatus,
  retryAfterMsOf,
} from '../../backends/health/attempt-failure.ts';
import type { AttemptFailure, RouteRequest } from '../../backends/routing/router.ts';
import {
  chunkSourceOf,
  replayingFirst,
  responseOverChunks,
} from '../../backends/upstream/chunk-source.ts';
import {
  readResponseBytes,
  UpstreamError,
  type UpstreamResponse,
} from '../../backends/upstream/upstream.ts';
import type { Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import {
  anyRoutable,
  noCapacity,
  routableCandidates,
  secondsUntilRoutable,
} from './select-candidates.ts';

export type ForwardRequest = {
  model: string;
  path: string;
  body: Uint8Array;
  headers: Record<string, string>;
  /** Aborts when the client goes away. */
  clientSignal: AbortSignal;
  /** Read the whole body inside the attempt, so a body cut short can still be retried. */
  buffered: boolean;
  promptTokens: number | undefined;
  /** The tenant's home region, for the router's region preference. */
  homeRegion: string | null;
  /** The backend picked (and priced) at admission: the first attempt goes there. */
  firstBackend: PooledBackend;
  /** Filled with each backend tried, in order: who did the work when all attempts end badly. */
  attempted: PooledBackend[];
};

export type ForwardResult = {
  backend: PooledBackend;
  response: UpstreamResponse;
  /** The whole body when the request was buffered. */
  bodyBytes: Uint8Array<ArrayBuffer> | undefined;
  abort: () => void;
  /** Ends the attempt's in-flight count; safe to call more than once. */
  release: () => void;
};

type AttemptResult =
  | { kind: 'success'; result: ForwardResult }
  | { kind: 'retry'; error: GatewayError };

function upstreamFailed(detail: string): GatewayError {
  return new GatewayError('upstream_error', `The backend failed: ${detail}`);
}

export async function forwardWithRetries(
  deps: Deps,
  allowed: readonly PooledBackend[],
  request: ForwardRequest,
): Promise<ForwardResult> {
  const route: RouteRequest = {
    model: request.model,
    promptTokens: request.promptTokens,
    stream: !request.buffered,
    homeRegion: request.homeRegion,
  };
  const triedIds = new Set<string>();
  let lastError: GatewayError | undefined;
  for (let attempt = 0; attempt <= deps.config.limits.retryCountMax; attempt += 1) {
    if (request.clientSignal.aborted) {
      break;
    }
    let backend = request.firstBackend;
    let onSettled: (() => void) | undefined;
    if (attempt > 0) {
      const next = pickRetry(deps, allowed, route, triedIds);
      if (next === undefined) {
        break;
      }
      backend = next;
      onSettled = () => deps.retryBudget.release();
    }
    triedIds.add(backend.record.id);
    request.attempted.push(backend);
    const tracked = startAttempt(deps, route, backend, onSettled);
    const outcome = await attemptOnce(deps, tracked, request);
    if (outcome.kind === 'success') {
      return outcome.result;
    }
    lastError = outcome.error;
  }
  if (lastError) {
    throw lastError;
  }
  throw noCapacity(request.model);
}

/** Another backend for a retry, when one is left and the budget has a retry to spare. */
function pickRetry(
  deps: Deps,
  allowed: readonly PooledBackend[],
  route: RouteRequest,
  triedIds: ReadonlySet<string>,
): PooledBackend | undefined {
  const candidates = routableCandidates(deps.pool, allowed, triedIds, deps.clock.nowMs());
  if (candidates.length === 0) {
    return undefined;
  }
  if (!deps.retryBudget.tryAcquire(deps.pool.inFlightTotal)) {
    deps.logger.log('warn', 'retry_budget_spent', {
      model: route.model,
      retriesInFlight: deps.retryBudget.retriesInFlight,
    });
    return undefined;
  }
  const backend = deps.router.pick(route, candidates);
  if (backend === undefined) {
    deps.retryBudget.release();
  }
  return backend;
}

/**
 * The backend the first attempt goes to. When every candidate is full the request waits for
 * room in the capacity queue; when none is routable at all, or the wait ends empty, the answer
 * is no_capacity with the seconds until one may take requests again.
 */
export async function pickFirstBackend(
  deps: Deps,
  allowed: readonly PooledBackend[],
  route: RouteRequest,
  clientSignal: AbortSignal,
): Promise<PooledBackend> {
  const take = () =>
    deps.router.pick(route, routableCandidates(deps.pool, allowed, new Set(), deps.clock.nowMs()));
  const picked = take();
  if (picked) {
    return picked;
  }
  const { limits } = deps.config;
  if (anyRoutable(deps.pool, allowed, deps.clock.nowMs())) {
    const waited = await deps.capacityQueue.wait(take, limits.capacityQueueTimeoutMs, clientSignal);
    if (waited) {
      return waited;
    }
  }
  throw noCapacity(route.model, secondsUntilRoutable(allowed, deps.clock.nowMs()));
}

async function attemptOnce(
  deps: Deps,
  attempt: TrackedAttempt,
  request: ForwardRequest,
): Promise<AttemptResult> {
  const backend = attempt.route.backend;
  const controller = new AbortController();
  const abort = () => controller.abort();
  // These closures live as long as a stream does: they keep the signal, not the request and its
  // body (a prompt of up to requestBodyBytesMax, held per open stream).
  const clientSignal = request.clientSignal;
  clientSignal.addEventListener('abort', abort, { once: true });
  const release = () => {
    attempt.end();
    clientSignal.removeEventListener('abort', abort);
  };
  const deadlineMs = firstTokenDeadlineMs(attempt.route, deps.config.limits);
  let deadlinePassed = false;
  const deadline =
    deadlineMs === undefined
      ? undefined
      : setTimeout(() => {
          deadlinePassed = true;
          controller.abort();
        }, deadlineMs);
  try {
    const response = await deps.upstream.send(backend.record, {
      method: 'POST',
      path: request.path,
      headers: request.headers,
      body: request.body,
      signal: controller.signal,
    });
    if (isRetryableStatus(response.status)) {
      await response.body.cancel();
      const retryAfterMs = retryAfterMsOf(response.headers['retry-after'], deps.clock.nowMs());
      return failed(
        attempt,
        release,
        failureOfStatus(response.status),
        `status ${response.status}`,
        retryAfterMs,
      );
    }
    if (request.buffered) {
      const limit = deps.config.limits.upstreamResponseBytesMax;
      const bodyBytes = await readResponseBytes(response, limit);
      attempt.succeed();
      return { kind: 'success', result: { backend, response, bodyBytes, abort, release } };
    }
    const streamed = response.status >= 300 ? response : await withFirstChunk(response);
    if (streamed === undefined) {
      return failed(attempt, release, 'protocol', 'an empty stream');
    }
    attempt.succeed();
    return {
      kind: 'success',
      result: { backend, response: streamed, bodyBytes: undefined, abort, release },
    };
  } catch (error) {
    if (deadlinePassed) {
      deps.logger.log('warn', 'first_token_deadline_passed', {
        backendId: backend.record.id,
        deadlineMs,
      });
      return failed(attempt, release, 'first_token_timeout', 'no first token in time');
    }
    return failureOf(deps, attempt, release, error);
  } finally {
    clearTimeout(deadline);
  }
}

function failed(
  attempt: TrackedAttempt,
  release: () => void,
  failure: AttemptFailure,
  detail: string,
  retryAfterMs?: number,
): AttemptResult {
  attempt.fail(failure, retryAfterMs);
  release();
  return { kind: 'retry', error: upstreamFailed(detail) };
}

function failureOf(
  deps: Deps,
  attempt: TrackedAttempt,
  release: () => void,
  error: unknown,
): AttemptResult {
  if (!(error instanceof UpstreamError)) {
    release();
    throw error;
  }
  deps.logger.log('warn', 'upstream_attempt_failed', {
    backendId: attempt.route.backend.record.id,
    kind: error.kind,
    message: error.message,
  });
  if (error.kind === 'aborted') {
    // The client left: no verdict on the backend, and the loop stops on the aborted signal.
    release();
    return { kind: 'retry', error: upstreamFailed('aborted') };
  }
  const detail = error.kind === 'too_large' ? error.message : error.kind;
  return failed(attempt, release, failureOfUpstreamError(error.kind), detail);
}

/**
 * Waits for a stream's first chunk (its first token, near enough) and returns the response with
 * a body that replays it before the rest, however that body is read; undefined when the stream
 * ended with nothing in it. No web stream is made for it: the relay reads the chunks directly.
 */
async function withFirstChunk(response: UpstreamResponse): Promise<UpstreamResponse | undefined> {
  const source = chunkSourceOf(response);
  const first = await source.next();
  if (first === undefined) {
    return undefined;
  }
  // Its body is now this source only: another reader of the same bytes would starve it.
  return responseOverChunks(response, replayingFirst(first, source));
}
