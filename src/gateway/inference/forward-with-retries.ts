/**
 * Sends a request to the backend picked by the router, and to another one when the first fails
 * before anything reached the client: connection failures, timeouts, 5xx and 429 answers, and a
 * stream whose first token misses its per-try deadline. Retries go to backends not tried yet: the
 * first one whenever another backend can take it, later ones only while the retry budget allows. A stream's first chunk is read inside the attempt, so a
 * backend that answers headers and then nothing is still retried. The first pick waits in the
 * capacity queue, up to its deadline, when every candidate is full (unless it is work that never
 * waits there). The backends tried come back
 * with the outcome, in order: when none answered, the last one did the work the client pays for.
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
import type { Limits } from '../../config.ts';
import type { Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { type AbortNotice, AbortSwitch } from '../../platform/abort-notice.ts';
import type { RequestDeadline } from './request-deadline.ts';
import {
  anyRoutable,
  noCapacity,
  routableCandidates,
  secondsUntilRoutable,
} from './select-candidates.ts';

/** What forwarding reads: the routing ports, the upstream, and the limits. */
export type ForwardDeps = Pick<
  Deps,
  'pool' | 'router' | 'retryBudget' | 'capacityQueue' | 'upstream' | 'clock' | 'logger'
> & { config: { limits: Limits } };

export type ForwardRequest = {
  /** What the router is told of the request, for the first pick and every retry. */
  route: RouteRequest;
  path: string;
  body: Uint8Array;
  headers: Record<string, string>;
  /** Aborts when the client goes away. */
  clientSignal: AbortNotice;
  /** The request's deadline, when it has one: once it passes, attempts are aborted, none retried. */
  deadline?: Pick<RequestDeadline, 'expired' | 'onExpiry'> | undefined;
  /** Read the whole body inside the attempt, so a body cut short can still be retried. */
  buffered: boolean;
  /** The backend picked (and priced) at admission: the first attempt goes there. */
  firstBackend: PooledBackend;
};

export type ForwardResult = {
  backend: PooledBackend;
  response: UpstreamResponse;
  /** The whole body when the request was buffered. */
  bodyBytes: Uint8Array<ArrayBuffer> | undefined;
  abort: () => void;
  /**
   * Ends the attempt's in-flight count, with the answer's output tokens per choice when they are
   * known (the router learns the backend's decode speed from them); safe to call more than once.
   */
  release: (outputTokens?: number) => void;
};

/** How forwarding ended, with each backend tried, in order. */
export type Forwarded =
  | ({ kind: 'answered'; attempted: readonly PooledBackend[] } & ForwardResult)
  | { kind: 'unanswered'; error: unknown; attempted: readonly PooledBackend[] };

type AttemptResult =
  | { kind: 'answered'; result: ForwardResult }
  | { kind: 'failed'; error: GatewayError };

function upstreamFailed(detail: string): GatewayError {
  return new GatewayError('upstream_error', `The backend failed: ${detail}`);
}

/**
 * Never throws: an answer, or why none came (the last attempt's error; no_capacity when none
 * was made; anything an attempt threw), each with the backends tried.
 */
export async function forwardWithRetries(
  deps: ForwardDeps,
  allowed: readonly PooledBackend[],
  request: ForwardRequest,
): Promise<Forwarded> {
  const { route } = request;
  const attempted: PooledBackend[] = [];
  const triedIds = new Set<string>();
  let lastError: GatewayError | undefined;
  try {
    for (let attempt = 0; attempt <= deps.config.limits.retryCountMax; attempt += 1) {
      if (request.clientSignal.aborted || request.deadline?.expired === true) {
        break;
      }
      let backend = request.firstBackend;
      let onSettled: (() => void) | undefined;
      if (attempt > 0) {
        const next = pickRetry(deps, allowed, route, triedIds, attempt === 1);
        if (next === undefined) {
          break;
        }
        backend = next;
        onSettled = () => deps.retryBudget.release();
      }
      triedIds.add(backend.record.id);
      attempted.push(backend);
      const tracked = startAttempt(deps, route, backend, onSettled);
      const outcome = await attemptOnce(deps, tracked, request);
      if (outcome.kind === 'answered') {
        return { kind: 'answered', attempted, ...outcome.result };
      }
      lastError = outcome.error;
    }
  } catch (error) {
    return { kind: 'unanswered', error, attempted };
  }
  return { kind: 'unanswered', error: lastError ?? noCapacity(route.model), attempted };
}

/**
 * Another backend for a retry, when one is left and the budget grants it (a first retry always
 * is).
 */
function pickRetry(
  deps: ForwardDeps,
  allowed: readonly PooledBackend[],
  route: RouteRequest,
  triedIds: ReadonlySet<string>,
  firstRetry: boolean,
): PooledBackend | undefined {
  const candidates = routableCandidates(deps.pool, allowed, triedIds, deps.clock.nowMs());
  if (candidates.length === 0) {
    return undefined;
  }
  if (!deps.retryBudget.tryAcquire(deps.pool.inFlightTotal, firstRetry)) {
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
 * room in the capacity queue (work that can wait never queues there: it takes only free room);
 * when none is routable at all, or the wait ends empty, the answer is no_capacity with the
 * seconds until one may take requests again.
 */
export async function pickFirstBackend(
  deps: ForwardDeps,
  allowed: readonly PooledBackend[],
  route: RouteRequest,
  clientSignal: AbortNotice,
  waitsForCapacity = true,
): Promise<PooledBackend> {
  const take = () =>
    deps.router.pick(route, routableCandidates(deps.pool, allowed, new Set(), deps.clock.nowMs()));
  const picked = take();
  if (picked) {
    return picked;
  }
  const { limits } = deps.config;
  if (waitsForCapacity && anyRoutable(deps.pool, allowed, deps.clock.nowMs())) {
    const waited = await deps.capacityQueue.wait(take, limits.capacityQueueTimeoutMs, clientSignal);
    if (waited) {
      return waited;
    }
  }
  throw noCapacity(route.model, secondsUntilRoutable(allowed, deps.clock.nowMs()));
}

/** One try on one backend: send, then judge the answer, within the first-token deadline. */
async function attemptOnce(
  deps: ForwardDeps,
  attempt: TrackedAttempt,
  request: ForwardRequest,
): Promise<AttemptResult> {
  const backend = attempt.route.backend;
  const control = attemptControl(request, attempt);
  const deadlineMs = firstTokenDeadlineMs(attempt.route, deps.config.limits);
  const deadline = firstTokenDeadline(control.abort, deadlineMs);
  try {
    const response = await deps.upstream.send(backend.record, {
      method: 'POST',
      path: request.path,
      headers: request.headers,
      body: request.body,
      signal: control.signal,
    });
    return await judgeAnswer(deps, attempt, request.buffered, response, control);
  } catch (error) {
    if (deadline.passed) {
      deps.logger.log('warn', 'first_token_deadline_passed', {
        backendId: backend.record.id,
        deadlineMs,
      });
      return failAttempt(attempt, control.release, 'first_token_timeout', 'no first token in time');
    }
    return outcomeOfThrown(deps, attempt, control.release, error);
  } finally {
    deadline.clear();
  }
}

/**
 * The attempt's own abort, tied to the client's and to the request's deadline; `release` ends
 * the attempt and unties them.
 */
type AttemptControl = {
  signal: AbortNotice;
  abort: () => void;
  release: (outputTokens?: number) => void;
};

function attemptControl(request: ForwardRequest, attempt: TrackedAttempt): AttemptControl {
  // These closures live as long as a stream does: they keep the signal, not the request and its
  // body (a prompt of up to requestBodyBytesMax, held per open stream).
  const { clientSignal, deadline } = request;
  const abortSwitch = new AbortSwitch();
  const abort = () => abortSwitch.abort();
  clientSignal.addEventListener('abort', abort, { once: true });
  const forgetExpiry = deadline?.onExpiry(abort);
  const release = (outputTokens?: number) => {
    attempt.end(outputTokens);
    clientSignal.removeEventListener('abort', abort);
    forgetExpiry?.();
  };
  return { signal: abortSwitch, abort, release };
}

/** Aborts the attempt when its deadline passes first; none (undefined) for a buffered answer. */
function firstTokenDeadline(
  abort: () => void,
  deadlineMs: number | undefined,
): { readonly passed: boolean; clear(): void } {
  let passed = false;
  const timer =
    deadlineMs === undefined
      ? undefined
      : setTimeout(() => {
          passed = true;
          abort();
        }, deadlineMs);
  return {
    get passed() {
      return passed;
    },
    clear: () => clearTimeout(timer),
  };
}

/**
 * A backend's answer, judged: 429 and 5xx fail the attempt (with the Retry-After they name); a
 * buffered body is read whole and a stream up to its first chunk, so one cut short still fails.
 */
async function judgeAnswer(
  deps: ForwardDeps,
  attempt: TrackedAttempt,
  buffered: boolean,
  response: UpstreamResponse,
  control: AttemptControl,
): Promise<AttemptResult> {
  const { abort, release } = control;
  const backend = attempt.route.backend;
  if (isRetryableStatus(response.status)) {
    await response.body.cancel();
    const retryAfterMs = retryAfterMsOf(response.headers['retry-after'], deps.clock.nowMs());
    const failure = failureOfStatus(response.status);
    return failAttempt(attempt, release, failure, `status ${response.status}`, retryAfterMs);
  }
  if (buffered) {
    const limit = deps.config.limits.upstreamResponseBytesMax;
    const bodyBytes = await readResponseBytes(response, limit);
    attempt.succeed();
    return { kind: 'answered', result: { backend, response, bodyBytes, abort, release } };
  }
  const streamed = response.status >= 300 ? response : await withFirstChunk(response);
  if (streamed === undefined) {
    return failAttempt(attempt, release, 'protocol', 'an empty stream');
  }
  attempt.succeed();
  return {
    kind: 'answered',
    result: { backend, response: streamed, bodyBytes: undefined, abort, release },
  };
}

/** Ends the attempt with a verdict against its backend, as the router and the pool learn it. */
function failAttempt(
  attempt: TrackedAttempt,
  release: () => void,
  failure: AttemptFailure,
  detail: string,
  retryAfterMs?: number,
): AttemptResult {
  attempt.fail(failure, retryAfterMs);
  release();
  return { kind: 'failed', error: upstreamFailed(detail) };
}

/**
 * What an error thrown by the upstream means for the attempt: a client that left ends it with
 * no verdict; any other UpstreamError fails it; anything else is a bug and is thrown on.
 */
function outcomeOfThrown(
  deps: ForwardDeps,
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
    return { kind: 'failed', error: upstreamFailed('aborted') };
  }
  const detail = error.kind === 'too_large' ? error.message : error.kind;
  return failAttempt(attempt, release, failureOfUpstreamError(error.kind), detail);
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
