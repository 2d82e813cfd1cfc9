/**
 * The Responses API's answer, built from a chat completion: the response object with its one
 * assistant message, its status (a chat answer cut by its length is `incomplete`, as OpenAI marks
 * one that reached max_output_tokens), and the chat usage under the Responses names. Both the
 * JSON answer and every event of a streamed one are built here, so the two never disagree.
 */
import { type ReportedUsage, readReportedUsage } from '../../metering/usage.ts';
import type { EchoedSettings } from './responses-request.ts';

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

export type IncompleteReason = 'max_output_tokens' | 'content_filter';

export type OutputText = { type: 'output_text'; text: string; annotations: never[] };

export type OutputMessage = {
  type: 'message';
  id: string;
  status: 'in_progress' | 'completed' | 'incomplete';
  role: 'assistant';
  content: OutputText[];
};

/**
 * Usage under the Responses names. A count the backend did not report is left out (a client
 * reading `cached_tokens` gets undefined, never a made-up 0); the whole object is left out when
 * input or output is unknown.
 */
export type ResponsesUsage = {
  input_tokens: number;
  input_tokens_details: { cached_tokens?: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens?: number };
  total_tokens: number;
};

/** OpenAI's error codes for a failed response; a backend or deadline failure is theirs too. */
export type ResponseError = { code: 'server_error'; message: string };

export type ResponseObject = EchoedSettings & {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  error: ResponseError | null;
  incomplete_details: { reason: IncompleteReason } | null;
  output: OutputMessage[];
  usage?: ResponsesUsage;
};

/** What every answer to one request shares: its ids, its time and its settings. */
export type ResponseIdentity = {
  id: string;
  messageId: string;
  createdAtS: number;
  settings: EchoedSettings;
};

/** Where an answer stands: its message (none yet before the first text), how it ended. */
export type ResponseState = {
  status: ResponseStatus;
  message: OutputMessage | undefined;
  incompleteReason?: IncompleteReason | undefined;
  error?: ResponseError | undefined;
  usage?: ResponsesUsage | undefined;
};

export function responseObject(identity: ResponseIdentity, state: ResponseState): ResponseObject {
  return {
    id: identity.id,
    object: 'response',
    created_at: identity.createdAtS,
    status: state.status,
    error: state.error ?? null,
    incomplete_details:
      state.incompleteReason === undefined ? null : { reason: state.incompleteReason },
    ...identity.settings,
    output: state.message === undefined ? [] : [state.message],
    ...(state.usage === undefined ? {} : { usage: state.usage }),
  };
}

export function outputText(text: string): OutputText {
  return { type: 'output_text', text, annotations: [] };
}

export function outputMessage(
  id: string,
  status: OutputMessage['status'],
  content: OutputText[],
): OutputMessage {
  return { type: 'message', id, status, role: 'assistant', content };
}

export function responsesUsageOf(reported: ReportedUsage | undefined): ResponsesUsage | undefined {
  if (reported?.inputTokens === undefined || reported.outputTokens === undefined) {
    return undefined;
  }
  return {
    input_tokens: reported.inputTokens,
    input_tokens_details:
      reported.cachedInputTokens === undefined ? {} : { cached_tokens: reported.cachedInputTokens },
    output_tokens: reported.outputTokens,
    output_tokens_details:
      reported.reasoningTokens === undefined ? {} : { reasoning_tokens: reported.reasoningTokens },
    total_tokens: reported.inputTokens + reported.outputTokens,
  };
}

/** How a chat finish reason ends a response: cut by length or a filter is `incomplete`. */
export function endingOf(finishReason: unknown): {
  status: 'completed' | 'incomplete';
  incompleteReason: IncompleteReason | undefined;
} {
  if (finishReason === 'length') {
    return { status: 'incomplete', incompleteReason: 'max_output_tokens' };
  }
  if (finishReason === 'content_filter') {
    return { status: 'incomplete', incompleteReason: 'content_filter' };
  }
  return { status: 'completed', incompleteReason: undefined };
}

/** What a whole chat answer said: its text, why it stopped, and the usage it reported. */
export type ChatAnswer = {
  text: string;
  finishReason: unknown;
  reported: ReportedUsage | undefined;
};

function firstChoice(parsed: unknown): Record<string, unknown> | undefined {
  const choices = (parsed as { choices?: unknown }).choices;
  const first: unknown = Array.isArray(choices) ? choices[0] : undefined;
  return typeof first === 'object' && first !== null
    ? (first as Record<string, unknown>)
    : undefined;
}

/**
 * Reads a buffered 2xx chat answer. One that is not JSON was billed by the gateway's count of
 * the text it carried, so that text is what the response delivers.
 */
export function readChatAnswer(body: Uint8Array): ChatAnswer {
  const text = new TextDecoder().decode(body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { text, finishReason: undefined, reported: undefined };
  }
  if (typeof parsed !== 'object' || parsed === null) {
    return { text, finishReason: undefined, reported: undefined };
  }
  const choice = firstChoice(parsed);
  const content = (choice?.message as { content?: unknown } | undefined)?.content;
  return {
    text: typeof content === 'string' ? content : '',
    finishReason: choice?.finish_reason,
    reported: readReportedUsage(parsed),
  };
}

/** The response object of a whole chat answer. */
export function responseOfChatAnswer(
  identity: ResponseIdentity,
  answer: ChatAnswer,
): ResponseObject {
  const ending = endingOf(answer.finishReason);
  return responseObject(identity, {
    status: ending.status,
    message: outputMessage(identity.messageId, ending.status, [outputText(answer.text)]),
    incompleteReason: ending.incompleteReason,
    usage: responsesUsageOf(answer.reported),
  });
}
