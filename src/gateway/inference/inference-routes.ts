/**
 * POST /v1/chat/completions, /v1/completions and /v1/embeddings, top to bottom: authenticate,
 * validate, find the allowed backends, pick the first, admit (price pinned, estimate reserved),
 * forward with retries, then answer with the backend's bytes (buffered for JSON, relayed as they
 * come for streams) and settle exactly once for what was delivered.
 */
import type { Context, Hono } from 'hono';
import type { z } from 'zod';
import type { PooledBackend } from '../../backends/backend-pool.ts';
import { chunkSourceOf } from '../../backends/upstream/chunk-source.ts';
import { readResponseBytes } from '../../backends/upstream/upstream.ts';
import type { UsageOutcome } from '../../billing/ledger.ts';
import { formatMoney } from '../../billing/money.ts';
import type { Limits } from '../../config.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import {
  deliveredTexts,
  requestTexts,
  requestTokenIdCount,
} from '../../metering/delivered-text.ts';
import { deliveredWhole, nothingDelivered } from '../../metering/delivered-text-buffer.ts';
import { estimatePromptTokens } from '../../metering/estimate-prompt-tokens.ts';
import { createStreamUsageTap, type StreamUsageTap } from '../../metering/stream-usage-tap.ts';
import { readReportedUsage } from '../../metering/usage.ts';
import { requireClient } from '../middleware/authenticate.ts';
import { readJsonBody } from '../middleware/json-body.ts';
import {
  type ForwardResult,
  forwardWithRetries,
  pickFirstBackend,
} from './forward-with-retries.ts';
import { type InferenceLease, openInferenceLease } from './inference-lease.ts';
import { chatCompletionSchema, completionSchema, embeddingSchema } from './openai-requests.ts';
import { relayEventStream, type StreamOutcome } from './relay-event-stream.ts';
import {
  type Admission,
  admitRequest,
  finalUsage,
  releaseRequest,
  settleRequest,
  verifyReportedUsage,
} from './request-money.ts';
import { allowedBackends } from './select-candidates.ts';
import { planUpstreamBody } from './upstream-body.ts';

type InferenceBody = {
  model: string;
  stream?: boolean | null | undefined;
  stream_options?: { include_usage?: boolean | undefined } | null | undefined;
  max_tokens?: number | null | undefined;
  max_completion_tokens?: number | null | undefined;
} & Record<string, unknown>;

type InferenceEndpoint = {
  path: '/chat/completions' | '/completions' | '/embeddings';
  schema: (limits: Limits) => z.ZodType<InferenceBody>;
  /** Embeddings produce no output tokens. */
  producesOutput: boolean;
};

const endpoints: readonly InferenceEndpoint[] = [
  { path: '/chat/completions', schema: chatCompletionSchema, producesOutput: true },
  { path: '/completions', schema: completionSchema, producesOutput: true },
  { path: '/embeddings', schema: embeddingSchema, producesOutput: false },
];

export function registerInferenceRoutes(app: Hono<HonoEnv>, limits: Limits): void {
  for (const endpoint of endpoints) {
    const schema = endpoint.schema(limits);
    app.post(`/v1${endpoint.path}`, requireClient, (c) => handleInference(c, endpoint, schema));
  }
}

async function handleInference(
  c: Context<HonoEnv>,
  endpoint: InferenceEndpoint,
  schema: z.ZodType<InferenceBody>,
): Promise<Response> {
  const deps = c.get('deps');
  const { bytes, value } = await readJsonBody(c, schema);
  const allowed = allowedBackends(deps, c.get('client'), value.model);
  c.get('requestLog').model = value.model;
  const stream = value.stream === true;
  const lease = await openInferenceLease(deps, c.get('client'), stream);
  // The lease ends once the request's money is settled or released: for a stream, after its end.
  let leaseHandedOver = false;
  try {
    const answer = await admitAndForward(c, endpoint, bytes, value, allowed, lease);
    leaseHandedOver = answer.leaseHandedOver;
    return answer.response;
  } finally {
    if (!leaseHandedOver) {
      lease.end();
    }
  }
}

async function admitAndForward(
  c: Context<HonoEnv>,
  endpoint: InferenceEndpoint,
  bytes: Uint8Array,
  value: InferenceBody,
  allowed: readonly PooledBackend[],
  lease: InferenceLease,
): Promise<{ response: Response; leaseHandedOver: boolean }> {
  const deps = c.get('deps');
  const stream = value.stream === true;
  const homeRegion = c.get('client').tenant.homeRegion;
  const clientSignal = deps.request.clientSignal(c);
  const promptTokens = estimatePromptTokens(requestTexts(value)) + requestTokenIdCount(value);
  const firstBackend = await pickFirstBackend(
    deps,
    allowed,
    { model: value.model, promptTokens, stream, homeRegion },
    clientSignal,
  );
  const admission = await admitRequest(deps, {
    requestId: c.get('requestId'),
    client: c.get('client'),
    model: value.model,
    region: firstBackend.record.region,
    promptTexts: requestTexts(value),
    promptTokenIdCount: requestTokenIdCount(value),
    outputTokensRequested: endpoint.producesOutput
      ? (value.max_completion_tokens ?? value.max_tokens ?? undefined)
      : 0,
  });
  const upstreamBody = planUpstreamBody(
    bytes,
    value,
    admission.clamped || admission.capped ? admission.outputTokensMax : undefined,
  );
  const forwarded = await forwardWithRetries(deps, allowed, {
    model: value.model,
    path: endpoint.path,
    body: upstreamBody.bytes,
    headers: upstreamHeaders(admission.requestId, stream),
    clientSignal,
    buffered: !stream,
    promptTokens: admission.promptTokensEstimate,
    homeRegion,
    firstBackend,
  });
  if (forwarded.kind === 'unanswered') {
    await endUnanswered(deps, admission, forwarded.attempted.at(-1), clientSignal.aborted);
    throw forwarded.error;
  }
  c.get('requestLog').backendId = forwarded.backend.record.id;
  const contentType = forwarded.response.headers['content-type'] ?? 'application/json';
  if (stream && contentType.startsWith('text/event-stream') && forwarded.response.status < 300) {
    const response = streamResponse(deps, admission, forwarded, {
      usageInjected: upstreamBody.usageInjected,
      clientSignal,
      lease,
    });
    return { response, leaseHandedOver: true };
  }
  const response = await bufferedResponse(deps, admission, forwarded, contentType);
  return { response, leaseHandedOver: false };
}

/**
 * No answer reached the client. A client that left while a backend worked on its prompt pays
 * for the prompt (never less than the input, so leaving early is no way to dodge it); a backend
 * failure costs nothing.
 */
async function endUnanswered(
  deps: Deps,
  admission: Admission,
  lastBackend: PooledBackend | undefined,
  clientLeft: boolean,
): Promise<void> {
  if (clientLeft && lastBackend) {
    const usage = finalUsage(deps, admission, undefined, nothingDelivered);
    await settleRequest(deps, admission, 'client_disconnect', lastBackend, usage);
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

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

async function bufferedResponse(
  deps: Deps,
  admission: Admission,
  forwarded: ForwardResult,
  contentType: string,
): Promise<Response> {
  let body = forwarded.bodyBytes;
  try {
    // A stream request answered with JSON (some servers ignore `stream`) is read whole here.
    body ??= await readResponseBytes(
      forwarded.response,
      deps.config.limits.upstreamResponseBytesMax,
    );
  } catch (error) {
    await releaseRequest(deps, admission, 'upstream_error', forwarded.backend);
    throw error;
  } finally {
    forwarded.release();
  }
  const headers: Record<string, string> = {
    'content-type': contentType,
    'x-tokenbank-backend-region': forwarded.backend.record.region,
  };
  const parsed = forwarded.response.status < 300 ? parseJson(body) : undefined;
  if (parsed === undefined) {
    // The backend refused it (a 4xx passed through) or answered nonsense: nothing is billed.
    await releaseRequest(deps, admission, 'upstream_error', forwarded.backend);
    return new Response(body, { status: forwarded.response.status, headers });
  }
  const delivered = deliveredWhole(deliveredTexts(parsed).join(''));
  const usage = finalUsage(deps, admission, readReportedUsage(parsed), delivered);
  const settled = await settleRequest(deps, admission, 'complete', forwarded.backend, usage);
  headers['x-tokenbank-cost'] = formatMoney(settled.costMicro);
  headers['x-tokenbank-balance'] = formatMoney(settled.walletAvailableMicro);
  deps.background.track(
    'verify_usage',
    verifyReportedUsage(deps, admission, forwarded.backend, usage, delivered),
  );
  return new Response(body, { status: forwarded.response.status, headers });
}

function streamResponse(
  deps: Deps,
  admission: Admission,
  forwarded: ForwardResult,
  options: { usageInjected: boolean; clientSignal: AbortSignal; lease: InferenceLease },
): Response {
  const tap = createStreamUsageTap({
    withholdUsageEvents: options.usageInjected,
    deliveredTextCharsMax: deps.config.limits.deliveredTextCharsMax,
    countTokens: (text) => deps.tokenizer.countTokens(text, admission.model),
  });
  const checkpoints = createCheckpointer(deps, admission, forwarded.backend, tap);
  checkpoints.record();
  let firstTokenSeen = false;
  const body = relayEventStream({
    upstream: chunkSourceOf(forwarded.response),
    tap,
    eventBytesMax: deps.config.limits.streamEventBytesMax,
    streamError: () =>
      new GatewayError('upstream_error', 'The backend stream ended before it was complete.'),
    abortUpstream: forwarded.abort,
    clientGone: () => options.clientSignal.aborted,
    onEvent: () => {
      if (!firstTokenSeen && tap.contentEventCount > 0) {
        firstTokenSeen = true;
        const waitedMs = deps.clock.nowMs() - admission.admittedAtMs;
        deps.metrics.observeTimeToFirstTokenMs(admission.model, waitedMs);
      }
      checkpoints.maybeRecord();
    },
    onEnd: (outcome) => {
      forwarded.release();
      deps.background.track(
        'settle_stream',
        settleStream(deps, admission, forwarded.backend, tap, outcome).finally(options.lease.end),
      );
    },
  });
  return new Response(body, {
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
 * (never less than the prompt) or the backend broke mid-way; nothing when the backend failed
 * before any output.
 */
async function settleStream(
  deps: Deps,
  admission: Admission,
  backend: PooledBackend,
  tap: StreamUsageTap,
  streamOutcome: StreamOutcome,
): Promise<void> {
  const outcome: UsageOutcome = streamOutcome;
  if (outcome === 'upstream_error' && tap.contentEventCount === 0 && tap.reported === undefined) {
    await releaseRequest(deps, admission, outcome, backend);
    return;
  }
  const delivered = tap.delivered();
  const usage = finalUsage(deps, admission, tap.reported, delivered);
  await settleRequest(deps, admission, outcome, backend, usage);
  if (outcome === 'complete') {
    await verifyReportedUsage(deps, admission, backend, usage, delivered);
  }
}

/** Records stream progress every N events or T ms, so a crash loses little usage. */
function createCheckpointer(
  deps: Deps,
  admission: Admission,
  backend: PooledBackend,
  tap: StreamUsageTap,
) {
  const { checkpointEventCount, checkpointIntervalMs } = deps.config.limits;
  let eventsSince = 0;
  let lastAtMs = 0;
  const record = () => {
    eventsSince = 0;
    lastAtMs = deps.clock.nowMs();
    deps.background.track(
      'checkpoint',
      deps.ledger.checkpoint({
        requestId: admission.requestId,
        backendId: backend.record.id,
        inputTokens: admission.promptTokensEstimate,
        outputTokens: tap.contentEventCount,
        atMs: lastAtMs,
      }),
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
