/**
 * A key's requests per minute (`rpm`) and tokens per minute (`tpm`), counted with reservations:
 * admission takes one request and the request's most tokens (prompt estimate + max_tokens) from
 * the key's buckets in the CounterStore, atomically, before anything is forwarded; settlement puts
 * back what was not used. A burst of simultaneous requests therefore never passes the limit, as it
 * would if usage were only counted after the fact. A refusal is 429 rate_limit_exceeded with
 * retry-after; a request that could never fit the key's tpm is a 400 naming max_tokens.
 */
import type { ApiKeyRecord } from '../../db/catalog.ts';
import type { Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import type { LimitKind } from '../../platform/metrics.ts';
import type { Bucket } from '../../platform/shared-state/counter-store.ts';

const minuteMs = 60_000;

export type RateReservation = {
  /** Tokens taken from the key's per-minute budget at admission; 0 when the key has no tpm. */
  tokensReserved: number;
  /** Puts back what the request did not use, or takes what it used beyond; only the first call counts. */
  settle(tokensUsed: number): Promise<void>;
};

export type RateRequest = {
  key: ApiKeyRecord;
  promptTokensEstimate: number;
  outputTokensMax: number;
};

function bucketOf(kind: 'rpm' | 'tpm', keyId: string, perMinute: number): Bucket | undefined {
  return perMinute > 0
    ? { key: `${kind}:${keyId}`, capacity: perMinute, refillPeriodMs: minuteMs }
    : undefined;
}

function rateLimited(deps: Deps, kind: LimitKind, detail: string, retryAfterMs: number) {
  deps.metrics.countLimited(kind);
  const retryAfterS = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new GatewayError(
    'rate_limit_exceeded',
    `Rate limit reached for this API key: ${detail}. Retry after ${retryAfterS} s.`,
    { retryAfterS },
  );
}

/** Refuses, as a fix for the client to make, a request larger than the key's whole tpm. */
function neverFits(request: RateRequest, tokens: number, tokensPerMinute: number): GatewayError {
  const promptAlone = request.promptTokensEstimate > tokensPerMinute;
  return new GatewayError(
    'invalid_request',
    promptAlone
      ? `The prompt is about ${request.promptTokensEstimate} tokens, more than this API key's limit of ${tokensPerMinute} tokens per minute.`
      : `This request may use up to ${tokens} tokens (the prompt and max_tokens), more than this API key's limit of ${tokensPerMinute} tokens per minute; lower max_tokens.`,
    promptAlone ? {} : { param: 'max_tokens' },
  );
}

export async function reserveRate(deps: Deps, request: RateRequest): Promise<RateReservation> {
  const { limits } = deps.config;
  const { key } = request;
  const requestBucket = bucketOf(
    'rpm',
    key.id,
    key.requestsPerMinuteMax ?? limits.keyRequestsPerMinuteDefault,
  );
  const tokenBucket = bucketOf(
    'tpm',
    key.id,
    key.tokensPerMinuteMax ?? limits.keyTokensPerMinuteDefault,
  );
  const tokens = request.promptTokensEstimate + request.outputTokensMax;
  if (tokenBucket && tokens > tokenBucket.capacity) {
    throw neverFits(request, tokens, tokenBucket.capacity);
  }
  const atMs = deps.clock.nowMs();
  if (requestBucket) {
    const taken = await deps.counters.take(requestBucket, 1, atMs);
    if (!taken.ok) {
      const detail = `${requestBucket.capacity} requests per minute`;
      throw rateLimited(deps, 'requests_per_minute', detail, taken.retryAfterMs);
    }
  }
  if (tokenBucket) {
    const taken = await deps.counters.take(tokenBucket, tokens, atMs);
    if (!taken.ok) {
      // Refused requests do not count against the request rate.
      if (requestBucket) {
        await deps.counters.give(requestBucket, 1, atMs);
      }
      const detail = `${tokenBucket.capacity} tokens per minute, and this request may use ${tokens}`;
      throw rateLimited(deps, 'tokens_per_minute', detail, taken.retryAfterMs);
    }
  }
  let settled = false;
  return {
    tokensReserved: tokenBucket ? tokens : 0,
    async settle(tokensUsed) {
      if (settled || !tokenBucket) {
        return;
      }
      settled = true;
      await deps.counters.give(tokenBucket, tokens - tokensUsed, deps.clock.nowMs());
    },
  };
}
