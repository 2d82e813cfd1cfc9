/**
 * Sends a request to a backend picked by the router, and to another one when the first fails
 * before anything reached the client: connection failures, timeouts, 5xx and 429 answers. Every
 * attempt counts in the pool's in-flight numbers until its `release` is called.
 */
import type { PooledBackend } from '../../backends/backend-pool.ts';
import { readAllBytes, UpstreamError, type UpstreamResponse } from '../../backends/upstream.ts';
import type { Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { routableCandidates } from './select-candidates.ts';

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

/** True for answers another backend may do better with: overload and server errors. */
function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

function upstreamFailed(detail: string): GatewayError {
  return new GatewayError('upstream_error', `The backend failed: ${detail}`);
}

export async function forwardWithRetries(
  deps: Deps,
  allowed: readonly PooledBackend[],
  request: ForwardRequest,
): Promise<ForwardResult> {
  const triedIds = new Set<string>();
  let lastError: GatewayError | undefined;
  for (let attempt = 0; attempt <= deps.config.limits.retryCountMax; attempt += 1) {
    const backend =
      attempt === 0
        ? request.firstBackend
        : deps.router.pick(
            { model: request.model, promptTokens: request.promptTokens },
            routableCandidates(allowed, triedIds),
          );
    if (!backend || request.clientSignal.aborted) {
      break;
    }
    triedIds.add(backend.record.id);
    request.attempted.push(backend);
    const outcome = await attemptOnce(deps, backend, request);
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

export function noCapacity(model: string): GatewayError {
  return new GatewayError('no_capacity', `No backend for '${model}' can take the request now.`, {
    retryAfterS: 1,
  });
}

/** The backend the first attempt goes to, or no_capacity when none is routable. */
export function pickFirstBackend(
  deps: Deps,
  allowed: readonly PooledBackend[],
  model: string,
): PooledBackend {
  const candidates = routableCandidates(allowed, new Set());
  const backend = deps.router.pick({ model, promptTokens: undefined }, candidates);
  if (!backend) {
    throw noCapacity(model);
  }
  return backend;
}

async function attemptOnce(
  deps: Deps,
  backend: PooledBackend,
  request: ForwardRequest,
): Promise<AttemptResult> {
  const controller = new AbortController();
  const abort = () => controller.abort();
  request.clientSignal.addEventListener('abort', abort, { once: true });
  deps.pool.begin(backend);
  let released = false;
  const release = () => {
    if (!released) {
      released = true;
      deps.pool.end(backend);
      request.clientSignal.removeEventListener('abort', abort);
    }
  };
  const startedAtMs = deps.clock.nowMs();
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
      release();
      return { kind: 'retry', error: upstreamFailed(`status ${response.status}`) };
    }
    const bodyBytes = request.buffered
      ? await readAllBytes(response.body, deps.config.limits.upstreamResponseBytesMax)
      : undefined;
    deps.pool.recordSuccess(backend, deps.clock.nowMs() - startedAtMs);
    return { kind: 'success', result: { backend, response, bodyBytes, abort, release } };
  } catch (error) {
    release();
    return { kind: 'retry', error: failureOf(deps, backend, error) };
  }
}

function failureOf(deps: Deps, backend: PooledBackend, error: unknown): GatewayError {
  if (error instanceof UpstreamError) {
    if (error.kind === 'connect' || error.kind === 'timeout') {
      deps.pool.recordFailure(backend, deps.clock.nowMs());
    }
    deps.logger.log('warn', 'upstream_attempt_failed', {
      backendId: backend.record.id,
      kind: error.kind,
      message: error.message,
    });
    return upstreamFailed(error.kind === 'too_large' ? error.message : error.kind);
  }
  throw error;
}
