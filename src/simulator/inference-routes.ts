/**
 * The OpenAI-compatible surface of the simulator (`/v1/...`). Each inference handler reads top
 * down: read the body, validate, decide faults, answer an immediate fault or take a slot, generate.
 */

import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { abandonedResponse, respondToCompletion } from './completion-responder.ts';
import { createCutJsonResponse } from './cut-response.ts';
import { createEmbeddingVector, encodeEmbeddingBase64 } from './embedding-vector.ts';
import { appliedFaultKinds, type FaultDecision, type ImmediateFault } from './fault-plan.ts';
import { createGenerationPacer, waitForAbort } from './generation-pacer.ts';
import {
  type CompletionRequest,
  type EmbeddingRequest,
  type OutputLimits,
  type ParseResult,
  parseChatCompletionRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
} from './inference-request.ts';
import { prefillDurationMs } from './simulated-durations.ts';
import type { SimulatorContext } from './simulator-context.ts';
import {
  invalidRequestError,
  modelNotFoundError,
  queueFullError,
  requestTooLargeError,
  type SimulatorError,
  simulatedRateLimitError,
  simulatedUnavailableError,
  simulatorErrorResponse,
} from './simulator-error.ts';

type CompletionParser = (body: unknown, limits: OutputLimits) => ParseResult<CompletionRequest>;

/** A request that passed validation and drew no immediate fault. */
type AcceptedRequest<Value> = {
  request: Value;
  decision: FaultDecision;
  controller: AbortController;
};

export function createInferenceRoutes(context: SimulatorContext): Hono {
  const routes = new Hono();
  const bytesMax = context.options.requestBodyBytesMax;
  // Counted before the body limit so `requests_received` covers every inference request.
  routes.on('POST', '*', async (_c, next) => {
    context.metrics.recordRequestReceived();
    await next();
  });
  routes.use(
    '*',
    bodyLimit({
      maxSize: bytesMax,
      onError: () => answerError(context, requestTooLargeError(bytesMax)),
    }),
  );
  const createdSeconds = Math.floor(context.clock.nowMs() / 1000);
  const modelObject = (id: string) => ({
    id,
    object: 'model',
    created: createdSeconds,
    owned_by: 'tokenbank-sim',
  });
  routes.get('/models', (c) =>
    c.json({ object: 'list', data: context.options.models.map(modelObject) }),
  );
  routes.get('/models/:id', (c) => {
    const id = c.req.param('id');
    return context.options.models.includes(id)
      ? c.json(modelObject(id))
      : simulatorErrorResponse(modelNotFoundError(id));
  });
  routes.post('/chat/completions', (c) => handleCompletion(context, c, parseChatCompletionRequest));
  routes.post('/completions', (c) => handleCompletion(context, c, parseCompletionRequest));
  routes.post('/embeddings', (c) => handleEmbedding(context, c));
  return routes;
}

async function handleCompletion(
  context: SimulatorContext,
  c: Context,
  parse: CompletionParser,
): Promise<Response> {
  const accepted = await acceptRequest(context, c, (body) => parse(body, context.options));
  if (!accepted.ok) {
    return accepted.response;
  }
  const { request, decision, controller } = accepted.value;
  const acquisition = await context.scheduler.acquire(request.model, controller.signal);
  if (!acquisition.ok) {
    return acquisition.reason === 'queue-full'
      ? answerError(context, queueFullError())
      : abandonedResponse(context);
  }
  return respondToCompletion(context, {
    request,
    decision,
    lease: acquisition.lease,
    signal: controller.signal,
    abort: () => controller.abort(),
  });
}

/** Embeddings take no slot: like a separate embedding server, they only pay prefill time. */
async function handleEmbedding(context: SimulatorContext, c: Context): Promise<Response> {
  const accepted = await acceptRequest(context, c, parseEmbeddingRequest);
  if (!accepted.ok) {
    return accepted.response;
  }
  const { request, decision, controller } = accepted.value;
  const pacer = createGenerationPacer({
    clock: context.clock,
    random: context.timingRandom,
    jitterFraction: context.options.latencyJitterFraction,
  });
  const durationMs = prefillDurationMs(context.options, request.promptTokens, decision.slow);
  await pacer.advance(durationMs, controller.signal);
  if (controller.signal.aborted) {
    return abandonedResponse(context);
  }
  context.metrics.recordPromptTokens(request.model, request.promptTokens);
  context.metrics.recordStatus(200);
  const body = embeddingBody(context, request, decision);
  if (decision.cut) {
    return createCutJsonResponse(JSON.stringify(body));
  }
  context.metrics.recordCompleted(request.model);
  return Response.json(body);
}

function embeddingBody(
  context: SimulatorContext,
  request: EmbeddingRequest,
  decision: FaultDecision,
): Record<string, unknown> {
  const dimensions = request.dimensions ?? context.options.embeddingDimensions;
  const data = request.inputs.map((input, index) => {
    const vector = createEmbeddingVector(request.model, input, dimensions);
    const embedding = request.encodingFormat === 'base64' ? encodeEmbeddingBase64(vector) : vector;
    return { object: 'embedding', index, embedding };
  });
  const usage = { prompt_tokens: request.promptTokens, total_tokens: request.promptTokens };
  return { object: 'list', data, model: request.model, ...(decision.noUsage ? {} : { usage }) };
}

/** Reads the JSON body, validates it and checks that the model is served here. */
async function readRequest<Value extends { model: string }>(
  context: SimulatorContext,
  c: Context,
  parse: (body: unknown) => ParseResult<Value>,
): Promise<ParseResult<Value>> {
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    const message = 'We could not parse the JSON body of your request.';
    return { ok: false, error: invalidRequestError(message, null) };
  }
  const parsed = parse(body);
  if (parsed.ok && !context.options.models.includes(parsed.value.model)) {
    return { ok: false, error: modelNotFoundError(parsed.value.model) };
  }
  return parsed;
}

/**
 * Reads and validates the request, then draws its faults and answers the immediate ones; what is
 * left is a request to serve. The abort controller follows the client's connection, and the
 * stream's cancellation aborts it too.
 */
async function acceptRequest<Value extends { model: string }>(
  context: SimulatorContext,
  c: Context,
  parse: (body: unknown) => ParseResult<Value>,
): Promise<{ ok: true; value: AcceptedRequest<Value> } | { ok: false; response: Response }> {
  const parsed = await readRequest(context, c, parse);
  if (!parsed.ok) {
    return { ok: false, response: answerError(context, parsed.error) };
  }
  const decision = context.faultPlan.decide();
  for (const kind of appliedFaultKinds(decision)) {
    context.metrics.recordFault(kind);
  }
  const controller = abortControllerFollowing(c.req.raw.signal);
  if (decision.immediate !== null) {
    return {
      ok: false,
      response: await answerImmediateFault(context, c, decision.immediate, controller.signal),
    };
  }
  return { ok: true, value: { request: parsed.value, decision, controller } };
}

async function answerImmediateFault(
  context: SimulatorContext,
  c: Context,
  fault: ImmediateFault,
  signal: AbortSignal,
): Promise<Response> {
  switch (fault) {
    case 'refuse':
      return context.refuseConnection(c);
    case 'hang':
      await waitForAbort(signal);
      return abandonedResponse(context);
    case 'fast-503':
      return answerError(context, simulatedUnavailableError());
    case '429':
      return answerError(context, simulatedRateLimitError());
  }
}

function abortControllerFollowing(signal: AbortSignal): AbortController {
  const controller = new AbortController();
  if (signal.aborted) {
    controller.abort();
  } else {
    signal.addEventListener('abort', () => controller.abort(), { once: true });
  }
  return controller;
}

function answerError(context: SimulatorContext, error: SimulatorError): Response {
  context.metrics.recordStatus(error.status);
  return simulatorErrorResponse(error);
}
