/**
 * How an upstream answer or error reads as an attempt failure, and the per-try deadline of a
 * stream's first token. Answers another backend may do better with are failures: 429 and 5xx.
 * `Retry-After` is read in both of its forms (seconds, or an HTTP date).
 */
import type { Limits } from '../../config.ts';
import type { AttemptFailure, RouteAttempt } from '../routing/router.ts';
import type { UpstreamErrorKind } from '../upstream/upstream.ts';

/** The per-try deadline is this many times the predicted first-token time (research §6.6). */
const firstTokenDeadlineFactor = 2.5;

/** True for answers another backend may do better with: overload and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

export function failureOfStatus(status: number): AttemptFailure {
  if (status === 429) {
    return 'rate_limited';
  }
  return status === 503 ? 'unavailable' : 'server_error';
}

export function failureOfUpstreamError(
  kind: Exclude<UpstreamErrorKind, 'aborted'>,
): AttemptFailure {
  return kind === 'too_large' ? 'protocol' : kind;
}

/** Milliseconds until the time a `Retry-After` value names; undefined when it names none. */
export function retryAfterMsOf(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    return Number(text) * 1000;
  }
  const atMs = Date.parse(text);
  return Number.isNaN(atMs) ? undefined : Math.max(0, atMs - nowMs);
}

/**
 * How long a streamed attempt may wait for its first token before it is given up and retried
 * elsewhere: 2.5x the prediction within the configured bounds, the maximum without a prediction.
 * A buffered answer gets none: its first byte comes with the last token.
 */
export function firstTokenDeadlineMs(
  attempt: RouteAttempt,
  limits: Pick<Limits, 'firstTokenTimeoutMinMs' | 'firstTokenTimeoutMaxMs'>,
): number | undefined {
  if (!attempt.request.stream) {
    return undefined;
  }
  const predicted = attempt.predictedTtftMs;
  if (predicted === undefined) {
    return limits.firstTokenTimeoutMaxMs;
  }
  return Math.min(
    limits.firstTokenTimeoutMaxMs,
    Math.max(limits.firstTokenTimeoutMinMs, Math.ceil(predicted * firstTokenDeadlineFactor)),
  );
}
