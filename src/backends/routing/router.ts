/**
 * The Router port (DESIGN.md §5): given the routable candidates for one request, pick one; say
 * what it predicts when an attempt is sent; learn from how each attempt went. The gateway filters
 * candidates (model, region policy, health, circuit, Retry-After, room, backends already tried);
 * the router only ranks them. The routing benchmark drives routers through this same port.
 */
import type { PooledBackend } from '../backend-pool.ts';

export type RouteRequest = {
  model: string;
  /** Estimated prompt tokens, when known. */
  promptTokens: number | undefined;
  /**
   * The output cap per choice the request asked for (max_tokens), when it gave one; 0 for work
   * that produces none (embeddings). The router expects the smaller of this and what answers of
   * the model were on average.
   */
  outputTokensAsked: number | undefined;
  /**
   * A stream's first token is observable, and its first-token deadline applies; its client cares
   * most about that first token, a JSON client about the whole answer.
   */
  stream: boolean;
  /** The tenant's home region, preferred while it is not clearly worse; null for none. */
  homeRegion: string | null;
  /** How the candidates' regions compare in price for this request; undefined for no preference. */
  prices: RoutePrices | undefined;
};

/**
 * Price as the router sees it: an order, not money (the caller ranks the regions from the
 * prices it pinned). Among candidates predicted to cost at most `marginMs` more time than the
 * router's choice, one of a cheaper rank is taken instead.
 */
export type RoutePrices = {
  /** 0 for the cheapest region; equal prices share a rank; a region absent is never preferred. */
  rankByRegion: ReadonlyMap<string, number>;
  marginMs: number;
};

/** Why an attempt failed before its first byte. */
export type AttemptFailure =
  /** No connection, or it closed before an answer. */
  | 'connect'
  /** No answer within the upstream timeouts. */
  | 'timeout'
  /** A stream's first token missed the per-try deadline. */
  | 'first_token_timeout'
  /** 429 */
  | 'rate_limited'
  /** 503 */
  | 'unavailable'
  /** Any other 5xx. */
  | 'server_error'
  /** An answer that could not be read. */
  | 'protocol';

/** One attempt of a request on one backend, as the router saw it when it was sent. */
export type RouteAttempt = {
  readonly backend: PooledBackend;
  readonly request: RouteRequest;
  readonly dispatchedAtMs: number;
  /** The router's prediction of the time to the first token, when it makes one. */
  readonly predictedTtftMs: number | undefined;
  /** Every slot was taken when it was sent, so its first-token time includes a queue. */
  readonly queuedAtDispatch: boolean;
  firstTokenAtMs: number | undefined;
};

export type AttemptOutcome =
  /** The first byte of the answer (the first token of a stream) came back. */
  | { kind: 'first_token'; atMs: number }
  /**
   * A successful attempt ended: the whole answer was delivered or relayed, with this many output
   * tokens per choice when they are known.
   */
  | { kind: 'done'; atMs: number; outputTokens: number | undefined }
  | { kind: 'failed'; atMs: number; failure: AttemptFailure; retryAfterMs: number | undefined }
  /** Ended without a verdict on the backend: the client went away first. */
  | { kind: 'abandoned'; atMs: number };

/** How a model's home-region choice stands, for the admin view. */
export type RegionPreferenceSnapshot = {
  model: string;
  homeRegion: string;
  mode: 'home' | 'spill';
  sinceMs: number;
};

export type Router = {
  readonly name: string;
  pick(request: RouteRequest, candidates: readonly PooledBackend[]): PooledBackend | undefined;
  /** The pick is being sent (call before it counts as in flight). */
  dispatch(request: RouteRequest, backend: PooledBackend): RouteAttempt;
  observe(attempt: RouteAttempt, outcome: AttemptOutcome): void;
  regionPreferences?(): RegionPreferenceSnapshot[];
};

/** The attempt record of a router that predicts nothing. */
export function plainAttempt(
  request: RouteRequest,
  backend: PooledBackend,
  atMs: number,
): RouteAttempt {
  return {
    backend,
    request,
    dispatchedAtMs: atMs,
    predictedTtftMs: undefined,
    queuedAtDispatch: false,
    firstTokenAtMs: undefined,
  };
}
