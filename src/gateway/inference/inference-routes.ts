/**
 * POST /v1/chat/completions, /v1/completions and /v1/embeddings, top to bottom: authenticate,
 * read the request once (inference-request.ts), find the allowed backends, pick the first, admit
 * (price pinned, the most it can cost reserved), forward the rebuilt body with retries, then
 * answer with the backend's bytes (buffered for JSON, relayed as they come for streams) and
 * settle exactly once for what was delivered, bounded by what the request could have produced.
 * From admission on, every way out settles or releases the reservation, and the request's
 * deadline (request-deadline.ts) ends it if nothing else does.
 */
import type { Context, Hono } from 'hono';
import type { PooledBackend } from '../../backends/backend-pool.ts';
import type { RouteRequest } from '../../backends/routing/router.ts';
import { chunkSourceOf } from '../../backends/upstream/chunk-source.ts';
import { readResponseBytes } from '../../backends/upstream/upstream.ts';
import type { FinalUsage } from '../../billing/ledger.ts';
import { costLinesHeader, toStoredLines } from '../../billing/meters.ts';
import { formatMoney } from '../../billing/money.ts';
import type { Limits } from '../../config.ts';
import type { ClientIdentity, Deps, HonoEnv, RequestLog } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { deliveredTexts } from '../../metering/delivered-text.ts';
import {
  type DeliveredText,
  deliveredWhole,
  nothingDelivered,
} from '../../metering/delivered-text-buffer.ts';
import { finalUsage } from '../../metering/final-usage.ts';
import { createStreamUsageTap, type StreamUsageTap } from '../../metering/stream-usage-tap.ts';
import { readReportedUsage } from '../../metering/usage.ts';
import type { AbortNotice } from '../../platform/abort-notice.ts';
import { requireClient } from '../middleware/authenticate.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { type Admission, admitRequest } from './admission.ts';
import {
  type ForwardResult,
  forwardWithRetries,
  pickFirstBackend,
} from './forward-with-retries.ts';
import { type InferenceLease, openInferenceLease } from './inference-lease.ts';
import {
  type InferenceRequest,
  inferenceEndpoints,
  readInferenceRequest,
} from './inference-request.ts';
import { relayEventStream, type StreamOutcome } from './relay-event-stream.ts';
import { type RequestDeadline, startRequestDeadline, timeoutError } from './request-deadline.ts';
import { releaseRequest, settleRequest, verifyReportedUsage } from './request-ending.ts';
import { routePricesOf } from './route-prices.ts';
import { allowedBackends, leasedCandidates } from './select-candidates.ts';
import { countingChunks } from './transport-meter.ts';
import { upstreamBody } from './upstream-body.ts';

export function registerInferenceRoutes(app: Hono<HonoEnv>, limits: Limits): void {
  for (const endpoint of inferenceEndpoints) {
    const schema = endpoint.schema(limits);
    app.post(`/v1${endpoint.path}`, requireClient, async (c) =>
      answerInference(inferenceCallOf(c), await readInferenceRequest(c, endpoint, schema)),
    );
  }
}

/**
 * Who asks, and how: an HTTP client (inferenceCallOf), or the gateway itself on a client's
 * behalf (a batch line, a Responses request translated to chat). Whoever asks, the request goes
 * through the same admission, forwarding and settlement.
 */
export type InferenceCall = {
  deps: Deps;
  client: ClientIdentity;
  requestId: string;
  requestLog: RequestLog;
  /** Aborts when whoever asked no longer wants the answer. */
  clientSignal: AbortNotice;
  /**
   * Whether the request may wait in the capacity queue when every backend is full. Work that
   * can wait (a batch line) never does: it takes only room that is free now and stays behind
   * every interactive request.
   */
  waitsForCapacity: boolean;
  /** Narrows the allowed backends (a batch line to the cheapest regions with room). */
  preferBackends?: ((allowed: readonly PooledBackend[]) => readonly PooledBackend[]) | undefined;
  /** Told once the request holds money: from then on it ends settled or released. */
  onAdmitted?: (() => void) | undefined;
  /**
   * How much longer a cheaper region may be predicted to take and still be preferred:
   * `routingPriceMarginMs` when left out (interactive); work that can wait passes a wider one.
   */
  priceMarginMs?: number | undefined;
  /** Told what the request was settled for, once its money is settled. */
  onSettled?: ((settled: InferenceSettlement) => void) | undefined;
};

export type InferenceSettlement = { usage: FinalUsage; costMicro: bigint; duplicate: boolean };

export function inferenceCallOf(c: Context<HonoEnv>): InferenceCall {
  const deps = c.get('deps');
  return {
    deps,
    client: c.get('client'),
    requestId: c.get('requestId'),
    requestLog: c.get('requestLog'),
    clientSignal: deps.request.clientSignal(c),
    waitsForCapacity: true,
  };
}

/** What the answer of an admitted request needs, whichever way it goes. */
type Exchange = {
  deps: Deps;
  call: InferenceCall;
  request: InferenceRequest;
  admission: Admission;
  deadline: RequestDeadline;
  clientSignal: AbortNotice;
  lease: InferenceLease;
};

/** Answers one inference request: the backend's answer, its money settled or released. */
export async function answerInference(
  call: InferenceCall,
  request: InferenceRequest,
): Promise<Response> {
  const { deps, client } = call;
  const candidates = leasedCandidates(
    deps,
    client,
    request.model,
    allowedBackends(deps, client, request.model),
  );
  const allowed = candidates.backends;
  call.requestLog.model = request.model;
  const lease = await openInferenceLease(deps, client, request.stream);
  // The lease ends once the request's money is settled or released: for a stream, after its end.
  let leaseHandedOver = false;
  try {
    const answer = await admitAndAnswer(
      call,
      request,
      call.preferBackends?.(allowed) ?? allowed,
      lease,
      candidates.leaseId,
    );
    leaseHandedOver = answer.leaseHandedOver;
    return answer.response;
  } finally {
    if (!leaseHandedOver) {
      lease.end();
    }
  }
}

async function admitAndAnswer(
  call: InferenceCall,
  request: InferenceRequest,
  allowed: readonly PooledBackend[],
  lease: InferenceLease,
  cardLeaseId: string | undefined,
): Promise<{ response: Response; leaseHandedOver: boolean }> {
  const { deps, client, clientSignal } = call;
  const route: RouteRequest = {
    model: request.model,
    promptTokens: request.promptTokensEstimate,
    outputTokensAsked: request.outputTokensAsked,
    stream: request.stream,
    homeRegion: client.tenant.homeRegion,
    prices: await routePricesOf(
      deps,
      request,
      allowed,
      call.priceMarginMs ?? deps.config.limits.routingPriceMarginMs,
    ),
  };
  const firstBackend = await pickFirstBackend(
    deps,
    allowed,
    route,
    clientSignal,
    call.waitsForCapacity,
  );
  const admission = await admitRequest(
    deps,
    {
      requestId: call.requestId,
      client,
      region: firstBackend.record.region,
      ...(cardLeaseId === undefined ? {} : { leaseId: cardLeaseId }),
    },
    request,
  );
  call.onAdmitted?.();
  const deadline = startRequestDeadline(deps.config.requestTimeoutS);
  const exchange: Exchange = { deps, call, request, admission, deadline, clientSignal, lease };
  let forwarded: ForwardResult;
  try {
    forwarded = await forward(exchange, allowed, route, firstBackend);
  } catch (error) {
    deadline.clear();
    throw error;
  }
  call.requestLog.backendId = forwarded.backend.record.id;
  const contentType = forwarded.response.headers['content-type'] ?? 'application/json';
  if (
    request.stream &&
    contentType.startsWith('text/event-stream') &&
    forwarded.response.status < 300
  ) {
    return { response: streamResponse(exchange, forwarded), leaseHandedOver: true };
  }
  try {
    return {
      response: await bufferedResponse(exchange, forwarded, contentType),
      leaseHandedOver: false,
    };
  } finally {
    deadline.clear();
  }
}

/** Forwards the rebuilt body; when no attempt answers, the reservation ends here. */
async function forward(
  exchange: Exchange,
  allowed: readonly PooledBackend[],
  route: RouteRequest,
  firstBackend: PooledBackend,
): Promise<ForwardResult> {
  const { deps, request, admission, deadline, clientSignal } = exchange;
  const forwarded = await forwardWithRetries(deps, allowed, {
    route,
    path: request.endpoint.path,
    body: upstreamBody(request, admission.outputTokensPerChoice),
    headers: upstreamHeaders(admission.requestId, request.stream),
    clientSignal,
    deadline,
    buffered: !request.stream,
    firstBackend,
  });
  if (forwarded.kind === 'unanswered') {
    await endUnanswered(exchange, forwarded.attempted.at(-1));
    throw deadline.expired ? timeoutError(deps.config.requestTimeoutS) : forwarded.error;
  }
  return forwarded;
}

/**
 * No answer reached the client. A client that left while a backend worked on its prompt pays
 * for the prompt (never less than the input, so leaving early is no way to dodge it); a backend
 * failure, or one too slow for the deadline, costs nothing.
 */
async function endUnanswered(exchange: Exchange, lastBackend: PooledBackend | undefined) {
  const { deps, admission, clientSignal } = exchange;
  const clientLeft = clientSignal.aborted;
  if (clientLeft && lastBackend) {
    const usage = await finalUsage(deps.tokenizer, admission.metered, undefined, nothingDelivered);
    await settleRequest(deps, admission, 'client_disconnect', lastBackend, usage, 0);
    return;
  }
  await releaseRequest(
    deps,
    admission,
    clientLeft ? 'client_disconnect' : 'upstream_error',
    lastBackend,
  );
}

function upstreamHeaders(requestId: string, stream: boolean): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: stream ? 'text/event-stream' : 'application/json',
    'x-request-id': requestId,
  };
}

/**
 * The output tokens of one choice: what the router learns a backend's decode speed from (the
 * choices are decoded side by side). A stream without a usage chunk counts its content events.
 */
function perChoice(outputTokens: number | undefined, choiceCount: number): number | undefined {
  return outputTokens === undefined ? undefined : Math.round(outputTokens / choiceCount);
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

/** What a successful answer delivered: its texts, or the whole body when it is not JSON. */
function deliveredOf(parsed: unknown, body: Uint8Array): DeliveredText {
  return parsed === undefined
    ? deliveredWhole(new TextDecoder().decode(body))
    : deliveredWhole(deliveredTexts(parsed).join(''));
}

async function bufferedResponse(
  exchange: Exchange,
  forwarded: ForwardResult,
  contentType: string,
): Promise<Response> {
  const { deps, admission } = exchange;
  let body = forwarded.bodyBytes;
  try {
    // A stream request answered with JSON (some servers ignore `stream`) is read whole here.
    body ??= await readResponseBytes(
      forwarded.response,
      deps.config.limits.upstreamResponseBytesMax,
    );
  } catch (error) {
    forwarded.release();
    await releaseRequest(deps, admission, 'upstream_error', forwarded.backend);
    throw error;
  }
  const headers: Record<string, string> = {
    'content-type': contentType,
    'x-tokenbank-backend-region': forwarded.backend.record.region,
  };
  if (forwarded.response.status >= 300) {
    forwarded.release();
    // The backend refused it (a 4xx passed through): nothing was produced, nothing is billed.
    await releaseRequest(deps, admission, 'upstream_error', forwarded.backend);
    return new Response(body, { status: forwarded.response.status, headers });
  }
  // A 2xx is billed even when it is not JSON: by the gateway's own count of what it carried.
  const parsed = parseJson(body);
  const reported = parsed === undefined ? undefined : readReportedUsage(parsed);
  forwarded.release(perChoice(reported?.outputTokens, exchange.request.choiceCount));
  const delivered = deliveredOf(parsed, body);
  const usage = await finalUsage(deps.tokenizer, admission.metered, reported, delivered);
  const settled = await settleRequest(
    deps,
    admission,
    'complete',
    forwarded.backend,
    usage,
    body.byteLength,
  );
  exchange.call.onSettled?.({ usage, costMicro: settled.costMicro, duplicate: settled.duplicate });
  headers['x-tokenbank-cost'] = formatMoney(settled.costMicro);
  if (settled.lines.length > 0) {
    headers['x-tokenbank-cost-lines'] = costLinesHeader(toStoredLines(settled.lines));
  }
  headers['x-tokenbank-balance'] = formatMoney(settled.walletAvailableMicro);
  deps.background.track(
    'verify_usage',
    verifyReportedUsage(deps, admission, forwarded.backend, usage, delivered),
  );
  return new Response(body, { status: forwarded.response.status, headers });
}

function streamResponse(exchange: Exchange, forwarded: ForwardResult): Response {
  const { deps, admission, deadline, clientSignal, lease } = exchange;
  const tap = createStreamUsageTap({
    withholdUsageEvents: exchange.request.usageWithheld,
    deliveredTextCharsMax: deps.config.limits.deliveredTextCharsMax,
    countTokens: (text) => deps.tokenizer.countTokens(text, admission.model),
    countShortText: (text) => deps.tokenizer.countShortText(text, admission.model),
  });
  const checkpoints = createCheckpointer(deps, admission, forwarded.backend, tap);
  const upstream = countingChunks(chunkSourceOf(forwarded.response));
  checkpoints.record();
  let firstTokenSeen = false;
  const relayed = relayEventStream({
    upstream,
    tap,
    eventBytesMax: deps.config.limits.streamEventBytesMax,
    streamError: () =>
      new GatewayError('upstream_error', 'The backend stream ended before it was complete.'),
    abortUpstream: forwarded.abort,
    clientGone: () => clientSignal.aborted,
    onEvent: () => {
      if (!firstTokenSeen && tap.contentEventCount > 0) {
        firstTokenSeen = true;
        const waitedMs = deps.clock.nowMs() - admission.admittedAtMs;
        deps.metrics.observeTimeToFirstTokenMs(admission.model, waitedMs);
      }
      checkpoints.maybeRecord();
    },
    onEnd: (outcome) => {
      deadline.clear();
      forwarded.release(
        outcome === 'complete'
          ? perChoice(
              tap.reported?.outputTokens ?? tap.contentEventCount,
              exchange.request.choiceCount,
            )
          : undefined,
      );
      deps.background.track(
        'settle_stream',
        settleStream(exchange, forwarded.backend, tap, outcome, upstream.bytes()).finally(
          lease.end,
        ),
      );
    },
  });
  deadline.onExpiry((error) => relayed.expire(error));
  return new Response(relayed.body, {
    status: forwarded.response.status,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-tokenbank-backend-region': forwarded.backend.record.region,
    },
  });
}

/**
 * Settles a stream once it ended: in full when complete; what was delivered when the client left
 * (never less than the prompt), the backend broke mid-way or the deadline passed; nothing when
 * the backend failed before any output.
 */
async function settleStream(
  exchange: Exchange,
  backend: PooledBackend,
  tap: StreamUsageTap,
  outcome: StreamOutcome,
  relayedBytes: number,
): Promise<void> {
  const { deps, admission } = exchange;
  if (outcome === 'upstream_error' && tap.contentEventCount === 0 && tap.reported === undefined) {
    await releaseRequest(deps, admission, outcome, backend);
    return;
  }
  const delivered = tap.delivered();
  const usage = await finalUsage(deps.tokenizer, admission.metered, tap.reported, delivered);
  const settled = await settleRequest(deps, admission, outcome, backend, usage, relayedBytes);
  exchange.call.onSettled?.({ usage, costMicro: settled.costMicro, duplicate: settled.duplicate });
  if (outcome === 'complete') {
    await verifyReportedUsage(deps, admission, backend, usage, delivered);
  }
}

/**
 * Records stream progress every N events or T ms, so a crash loses little usage: the prompt
 * estimate, and the tokens delivered so far, as the tap counts them (what it delivered since the
 * last checkpoint, at once when short, as it nearly always is; else off the event loop, and the
 * checkpoint is written when the count is done). A crash settles from these, with the usage
 * source `estimate`.
 */
function createCheckpointer(
  deps: Deps,
  admission: Admission,
  backend: PooledBackend,
  tap: StreamUsageTap,
) {
  const { checkpointEventCount, checkpointIntervalMs } = deps.config.limits;
  let eventsSince = 0;
  let lastAtMs = 0;
  const write = (outputTokens: number, atMs: number) =>
    deps.ledger.checkpoint({
      requestId: admission.requestId,
      backendId: backend.record.id,
      inputTokens: admission.promptTokensEstimate,
      outputTokens: Math.min(outputTokens, admission.metered.bound.outputTokensMax),
      atMs,
    });
  const record = () => {
    eventsSince = 0;
    const atMs = deps.clock.nowMs();
    lastAtMs = atMs;
    const counted = tap.countDelivered();
    deps.background.track(
      'checkpoint',
      typeof counted === 'number'
        ? write(counted, atMs)
        : counted.then((tokens) => write(tokens, atMs)),
    );
  };
  return {
    record,
    maybeRecord: () => {
      eventsSince += 1;
      if (
        eventsSince >= checkpointEventCount ||
        deps.clock.nowMs() - lastAtMs >= checkpointIntervalMs
      ) {
        record();
      }
    },
  };
}

export function inferenceRouteDocs(limits: Limits): RouteDoc[] {
  return inferenceEndpoints.map((endpoint) =>
    routeDocsFor('apiKey')('post', `/v1${endpoint.path}`, `OpenAI-compatible ${endpoint.path}`, {
      body: endpoint.schema(limits),
      successTypes: endpoint.producesOutput
        ? ['application/json', 'text/event-stream']
        : ['application/json'],
    }),
  );
}
