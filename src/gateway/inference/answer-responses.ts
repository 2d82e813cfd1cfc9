/**
 * answerResponses: one Responses API request, answered by the chat path (answerInference) and
 * translated. The request becomes a chat completion (responses-request.ts), so it is admitted,
 * reserved, forwarded with retries, relayed and settled by exactly the code chat uses: the same
 * bounds, deadline and ledger. Its answer becomes a response object (responses-answer.ts) or, for
 * a stream, typed Responses events (responses-stream.ts). Used by POST /v1/responses and by
 * whatever asks on a client's behalf with an already parsed body (a batch line).
 */
import { webStreamChunks } from '../../backends/upstream/chunk-source.ts';
import { newId } from '../../platform/identifiers.ts';
import { answerInference, type InferenceCall } from './inference-routes.ts';
import { eventBytes, ResponseEventWriter } from './response-event-writer.ts';
import {
  type ChatAnswer,
  type ResponseIdentity,
  readChatAnswer,
  responseOfChatAnswer,
} from './responses-answer.ts';
import { responsesRequestOf } from './responses-request.ts';
import { responsesEventStream } from './responses-stream.ts';

/** What the gateway says of a request on its answer, kept on the translated one. */
const gatewayHeaderNames = [
  'x-tokenbank-backend-region',
  'x-tokenbank-cost',
  'x-tokenbank-balance',
] as const;

const streamHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
};

const jsonHeaders = { 'content-type': 'application/json' };

/** Longest part of a backend's non-JSON refusal quoted back to the client. */
const refusalQuoteCharsMax = 500;

function gatewayHeadersOf(chat: Response): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of gatewayHeaderNames) {
    const value = chat.headers.get(name);
    if (value !== null) {
      headers[name] = value;
    }
  }
  return headers;
}

function isErrorEnvelope(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    const error = (parsed as { error?: unknown } | null)?.error;
    return typeof error === 'object' && error !== null;
  } catch {
    return false;
  }
}

/**
 * A backend's refusal (a 4xx the chat path passed on, billed nothing) as the client's error: as
 * it is when it already has OpenAI's envelope, else wrapped in one.
 */
async function refusalOf(chat: Response): Promise<Response> {
  const text = await chat.text();
  const headers = { ...jsonHeaders, ...gatewayHeadersOf(chat) };
  if (isErrorEnvelope(text)) {
    return new Response(text, { status: chat.status, headers });
  }
  const envelope = {
    error: {
      message: `The backend refused the request: ${text.slice(0, refusalQuoteCharsMax)}`,
      type: chat.status >= 500 ? 'server_error' : 'invalid_request_error',
      param: null,
      code: 'upstream_error',
    },
  };
  return new Response(JSON.stringify(envelope), { status: chat.status, headers });
}

/** A stream asked of a backend that answered whole (some ignore `stream`), as its events. */
function eventsOfWholeAnswer(
  writer: ResponseEventWriter,
  answer: ChatAnswer,
): Uint8Array<ArrayBuffer> {
  const events = [...writer.opening(), ...writer.text(answer.text)];
  writer.finishReason(answer.finishReason);
  if (answer.reported !== undefined) {
    writer.usage(answer.reported);
  }
  events.push(...writer.complete());
  return eventBytes(events);
}

/**
 * Answers one Responses API request given its parsed JSON body: a 400 naming the field when the
 * body asks for what is not served, else the answer, JSON or SSE as the body asked.
 */
export async function answerResponses(call: InferenceCall, body: unknown): Promise<Response> {
  const { limits } = call.deps.config;
  const request = responsesRequestOf(body, limits);
  const identity: ResponseIdentity = {
    id: newId('resp'),
    messageId: newId('msg'),
    createdAtS: Math.floor(call.deps.clock.nowMs() / 1000),
    settings: request.settings,
  };
  const chat = await answerInference(call, request.chat);
  if (chat.status >= 300) {
    return refusalOf(chat);
  }
  const headers = gatewayHeadersOf(chat);
  // The text a streamed answer holds is bounded like a whole answer's body.
  const writer = new ResponseEventWriter(identity, limits.upstreamResponseBytesMax);
  if (chat.body !== null && chat.headers.get('content-type')?.startsWith('text/event-stream')) {
    const events = responsesEventStream({
      chat: webStreamChunks(chat.body),
      writer,
      eventBytesMax: limits.streamEventBytesMax,
    });
    return new Response(events, { headers: { ...streamHeaders, ...headers } });
  }
  const answer = readChatAnswer(new Uint8Array(await chat.arrayBuffer()));
  if (request.chat.stream) {
    return new Response(eventsOfWholeAnswer(writer, answer), {
      headers: { ...streamHeaders, ...headers },
    });
  }
  return new Response(JSON.stringify(responseOfChatAnswer(identity, answer)), {
    headers: { ...jsonHeaders, ...headers },
  });
}
