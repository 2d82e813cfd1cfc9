/**
 * The Metrics port: what the core counts as requests go by. The Node runtime implements it with
 * prom-client and serves it as Prometheus text on GET /metrics; gauges of state (the backend pool,
 * holds pending, requests in flight) are read by the runtime at scrape time, not pushed from here.
 * Labels are bounded: a model label is only ever a model the pool serves, never what a client sent.
 */
export type TokenKind = 'input' | 'cached_input' | 'output';

/** Why a request was refused by a limit of its key or of the gateway. */
export type LimitKind =
  | 'requests_per_minute'
  | 'tokens_per_minute'
  | 'streams_per_key'
  | 'requests_in_flight'
  | 'background_work'
  | 'shutting_down';

/** Who paid a settled charge (the `source` of a usage record's `paid_by`). */
export type MoneySource = 'coupon' | 'wallet' | 'write_off';

export type MetricsExposition = { contentType: string; body: string };

export type Metrics = {
  /** One answered HTTP request; `model` is 'none' when the request named no served model. */
  countRequest(model: string, status: number): void;
  /** From admission to the first output event relayed to the client (streams only). */
  observeTimeToFirstTokenMs(model: string, durationMs: number): void;
  /** From admission to settlement or release: the whole life of an inference request. */
  observeRequestDurationMs(model: string, outcome: string, durationMs: number): void;
  countTokens(model: string, kind: TokenKind, tokens: number): void;
  /** Money a settlement debited, by who paid it; `write_off` is what nobody could pay. */
  countMoney(source: MoneySource, amountMicro: bigint): void;
  countLimited(kind: LimitKind): void;
  /** The whole exposition, scrape-time gauges included. */
  render(): Promise<MetricsExposition>;
};

export const noopMetrics: Metrics = {
  countRequest() {},
  observeTimeToFirstTokenMs() {},
  observeRequestDurationMs() {},
  countTokens() {},
  countMoney() {},
  countLimited() {},
  render: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '' }),
};
