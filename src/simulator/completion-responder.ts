/**
 * Runs one admitted completion on its slot and answers it, streaming or not. Timing, token
 * accounting and the in-body faults (`cut`, `no-usage`, `slow`) happen here; everything before
 * admission (validation, immediate faults, queueing) belongs to the inference routes.
 */

import {
  type CompletionPayloads,
  createCompletionId,
  createCompletionPayloads,
  createUsage,
  type FinishReason,
  type JsonObject,
} from './completion-payloads.ts';
import {
  createCutJsonResponse,
  cutStream,
  SimulatedCutError,
  streamedBodyHeaders,
} from './cut-response.ts';
import { fakeText, fakeTokenAt } from './fake-text.ts';
import type { FaultDecision } from './fault-plan.ts';
import { createGenerationPacer, type GenerationPacer } from './generation-pacer.ts';
import type { CompletionRequest } from './inference-request.ts';
import { decodeStepDurationMs, prefillDurationMs } from './simulated-durations.ts';
import type { SimulatorContext } from './simulator-context.ts';
import { clientGoneError, simulatorErrorResponse } from './simulator-error.ts';
import type { SlotLease } from './slot-scheduler.ts';

/** An admitted request: it holds a slot until it ends, is cut, or its client goes away. */
export type CompletionRun = {
  request: CompletionRequest;
  decision: FaultDecision;
  lease: SlotLease;
  /** Aborts when the client disconnects or cancels the stream. */
  signal: AbortSignal;
  /** Aborts `signal`: called when the response stream is cancelled. */
  abort(): void;
};

type RunTiming = { prefillMs: number; decodeStepMs: number; pacer: GenerationPacer };

function planTiming(context: SimulatorContext, run: CompletionRun): RunTiming {
  const { options } = context;
  return {
    prefillMs: prefillDurationMs(options, run.request.promptTokens, run.decision.slow),
    decodeStepMs: decodeStepDurationMs(options, run.decision.slow),
    pacer: createGenerationPacer({
      clock: context.clock,
      random: context.timingRandom,
      jitterFraction: options.latencyJitterFraction,
    }),
  };
}

function finishReasonOf(request: CompletionRequest): FinishReason {
  return request.limitedByRequest ? 'length' : 'stop';
}

function payloadsFor(context: SimulatorContext, run: CompletionRun): CompletionPayloads {
  return createCompletionPayloads({
    kind: run.request.kind,
    id: createCompletionId(run.request.kind),
    createdSeconds: Math.floor(context.clock.nowMs() / 1000),
    model: run.request.model,
    usageNullOnChunks: run.request.includeUsage && !run.decision.noUsage,
  });
}

/** Answers an admitted completion; the slot is released on every path. */
export function respondToCompletion(
  context: SimulatorContext,
  run: CompletionRun,
): Promise<Response> | Response {
  // The client going away frees the slot at once, whatever the generation is doing.
  run.signal.addEventListener('abort', () => run.lease.release(), { once: true });
  return run.request.stream ? streamCompletion(context, run) : completeAtOnce(context, run);
}

async function completeAtOnce(context: SimulatorContext, run: CompletionRun): Promise<Response> {
  const { request } = run;
  const timing = planTiming(context, run);
  const payloads = payloadsFor(context, run);
  try {
    await timing.pacer.advance(timing.prefillMs, run.signal);
    if (run.signal.aborted) {
      return abandonedResponse(context);
    }
    context.metrics.recordPromptTokens(request.model, request.promptTokens);
    await timing.pacer.advance(timing.decodeStepMs * request.outputTokens, run.signal);
    if (run.signal.aborted) {
      return abandonedResponse(context);
    }
    context.metrics.recordGeneratedTokens(request.model, request.outputTokens);
  } finally {
    run.lease.release();
  }
  const usage = run.decision.noUsage
    ? null
    : createUsage(request.promptTokens, request.outputTokens);
  const body = payloads.fullResponse(
    fakeText(request.outputTokens),
    finishReasonOf(request),
    usage,
  );
  context.metrics.recordStatus(200);
  if (run.decision.cut) {
    return createCutJsonResponse(JSON.stringify(body));
  }
  context.metrics.recordCompleted(request.model);
  return Response.json(body);
}

/** The answer to a client that went away: counted, and never actually delivered. */
export function abandonedResponse(context: SimulatorContext): Response {
  context.metrics.recordAborted();
  return simulatorErrorResponse(clientGoneError());
}

const eventStreamHeaders = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  ...streamedBodyHeaders,
};

function streamCompletion(context: SimulatorContext, run: CompletionRun): Response {
  context.metrics.recordStatus(200);
  const body = eventStreamFrom(completionEvents(context, run), run.abort);
  return new Response(body, { status: 200, headers: eventStreamHeaders });
}

function serverSentEvent(data: JsonObject | '[DONE]'): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** The SSE events of one streamed completion; stops quietly once `run.signal` aborts. */
async function* completionEvents(
  context: SimulatorContext,
  run: CompletionRun,
): AsyncGenerator<string, void, undefined> {
  const { request, decision, signal } = run;
  const timing = planTiming(context, run);
  const payloads = payloadsFor(context, run);
  // Whatever leaves this generator early (an abort, or `return()` from a cancelled stream) counts
  // as abandoned by the client unless it finished or was cut on purpose.
  let outcome: 'abandoned' | 'completed' | 'cut' = 'abandoned';
  try {
    await timing.pacer.advance(timing.prefillMs, signal);
    if (signal.aborted) {
      return;
    }
    context.metrics.recordPromptTokens(request.model, request.promptTokens);
    for (const chunk of payloads.openingChunks()) {
      yield serverSentEvent(chunk);
    }
    const cutAfterTokens = decision.cut ? Math.ceil(request.outputTokens / 2) : null;
    for (let position = 0; position < request.outputTokens; position++) {
      if (position === cutAfterTokens) {
        break;
      }
      await timing.pacer.advance(timing.decodeStepMs, signal);
      if (signal.aborted) {
        return;
      }
      context.metrics.recordGeneratedTokens(request.model, 1);
      yield serverSentEvent(payloads.tokenChunk(fakeTokenAt(position)));
    }
    if (cutAfterTokens !== null) {
      outcome = 'cut';
      throw new SimulatedCutError();
    }
    yield serverSentEvent(payloads.finishChunk(finishReasonOf(request)));
    if (request.includeUsage && !decision.noUsage) {
      yield serverSentEvent(
        payloads.usageChunk(createUsage(request.promptTokens, request.outputTokens)),
      );
    }
    // Counted before the last event: once `[DONE]` is out, the client owes us nothing more.
    outcome = 'completed';
    context.metrics.recordCompleted(request.model);
    yield serverSentEvent('[DONE]');
  } finally {
    run.lease.release();
    if (outcome === 'abandoned') {
      context.metrics.recordAborted();
    }
  }
}

/**
 * Pulls one event per read, so a slow reader slows the generation (backpressure). An error from the
 * generator errors the stream, which makes the runtime drop the connection without `[DONE]`.
 */
function eventStreamFrom(
  events: AsyncGenerator<string, void, undefined>,
  onCancel: () => void,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await events.next();
        if (next.done === true) {
          controller.close();
        } else {
          controller.enqueue(encoder.encode(next.value));
        }
      } catch (error) {
        // Also reached when the stream was cancelled meanwhile; erroring a closed stream is a no-op.
        if (error instanceof SimulatedCutError) {
          await cutStream(controller);
        } else {
          controller.error(error);
        }
      }
    },
    async cancel() {
      onCancel();
      await events.return(undefined);
    },
  });
}
