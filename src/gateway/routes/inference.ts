/**
 * POST /v1/chat/completions, /v1/completions and /v1/embeddings: authenticate, validate, pick the
 * allowed backends, forward with retries, then answer with the backend's bytes (buffered for
 * JSON, relayed as they come for streams).
 */
import type { Context, Hono } from 'hono';
import type { z } from 'zod';
import { readAllBytes } from '../../backends/upstream.ts';
import type { Limits } from '../../config.ts';
import type { HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { createEventStreamTap } from '../../metering/event-stream-tap.ts';
import { readJsonBody } from '../json-body.ts';
import { requireClient } from '../middleware/authenticate.ts';
import { chatCompletionSchema, completionSchema, embeddingSchema } from '../openai-requests.ts';
import { type ForwardResult, forwardWithRetries } from '../proxy/forward-with-retries.ts';
import { relayEventStream } from '../proxy/relay-event-stream.ts';
import { allowedBackends } from '../proxy/select-candidates.ts';

type InferenceBody = { model: string; stream?: boolean | null | undefined };

type InferenceEndpoint = {
  path: '/chat/completions' | '/completions' | '/embeddings';
  schema: (limits: Limits) => z.ZodType<InferenceBody>;
};

const endpoints: readonly InferenceEndpoint[] = [
  { path: '/chat/completions', schema: chatCompletionSchema },
  { path: '/completions', schema: completionSchema },
  { path: '/embeddings', schema: embeddingSchema },
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
  const stream = value.stream === true;
  const forwarded = await forwardWithRetries(deps, allowed, {
    model: value.model,
    path: endpoint.path,
    body: bytes,
    headers: upstreamHeaders(c.get('requestId'), stream),
    clientSignal: c.req.raw.signal,
    buffered: !stream,
    promptTokens: undefined,
  });
  const contentType = forwarded.response.headers['content-type'] ?? 'application/json';
  if (stream && contentType.startsWith('text/event-stream')) {
    return streamResponse(c, forwarded);
  }
  return bufferedResponse(forwarded, contentType, deps.config.limits.upstreamResponseBytesMax);
}

function upstreamHeaders(requestId: string, stream: boolean): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: stream ? 'text/event-stream' : 'application/json',
    'x-request-id': requestId,
  };
}

async function bufferedResponse(
  forwarded: ForwardResult,
  contentType: string,
  upstreamResponseBytesMax: number,
): Promise<Response> {
  let body = forwarded.bodyBytes;
  try {
    // A stream request answered with JSON (some servers ignore `stream`) is read whole here.
    body ??= await readAllBytes(forwarded.response.body, upstreamResponseBytesMax);
  } finally {
    forwarded.release();
  }
  return new Response(body, {
    status: forwarded.response.status,
    headers: {
      'content-type': contentType,
      'x-tokenbank-backend-region': forwarded.backend.record.region,
    },
  });
}

function streamResponse(c: Context<HonoEnv>, forwarded: ForwardResult): Response {
  const deps = c.get('deps');
  const requestId = c.get('requestId');
  const body = relayEventStream({
    upstreamBody: forwarded.response.body,
    tap: createEventStreamTap(() => {}),
    streamError: () =>
      new GatewayError('upstream_error', 'The backend stream ended before it was complete.'),
    abortUpstream: forwarded.abort,
    onEnd: (outcome) => {
      forwarded.release();
      deps.logger.log('info', 'stream_ended', {
        requestId,
        backendId: forwarded.backend.record.id,
        outcome,
      });
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
