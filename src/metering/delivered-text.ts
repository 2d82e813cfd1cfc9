/**
 * The text a request carries and the text a response delivers, as plain strings for counting:
 * message contents (string or text parts), legacy prompts, embedding inputs; answer contents,
 * completion texts and stream deltas (tool-call arguments count as output too).
 */

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function textsOfContent(content: unknown): string[] {
  if (typeof content === 'string') {
    return [content];
  }
  if (Array.isArray(content)) {
    return content.flatMap((part) =>
      isObject(part) && typeof part.text === 'string' ? [part.text] : [],
    );
  }
  return [];
}

/** Strings, or arrays of strings; token-id arrays carry no text and are counted by length. */
function textsOfPrompt(prompt: unknown): string[] {
  if (typeof prompt === 'string') {
    return [prompt];
  }
  if (Array.isArray(prompt)) {
    return prompt.flatMap((item) => (typeof item === 'string' ? [item] : []));
  }
  return [];
}

/** The texts of a request body: chat messages, a completion prompt or embedding input. */
export function requestTexts(body: JsonObject): string[] {
  if (Array.isArray(body.messages)) {
    return body.messages.flatMap((message) =>
      isObject(message)
        ? [...textsOfContent(message.content), ...toolCallTexts(message.tool_calls)]
        : [],
    );
  }
  return textsOfPrompt(body.prompt ?? body.input);
}

/** Tokens given as ids (prompt or input arrays of integers) are counted exactly by length. */
export function requestTokenIdCount(body: JsonObject): number {
  const prompt = body.prompt ?? body.input;
  if (!Array.isArray(prompt)) {
    return 0;
  }
  if (prompt.every((item) => typeof item === 'number')) {
    return prompt.length;
  }
  return prompt.reduce<number>((sum, item) => sum + (Array.isArray(item) ? item.length : 0), 0);
}

function toolCallTexts(toolCalls: unknown): string[] {
  if (!Array.isArray(toolCalls)) {
    return [];
  }
  return toolCalls.flatMap((call) => {
    const functionCall = isObject(call) ? call.function : undefined;
    return isObject(functionCall) && typeof functionCall.arguments === 'string'
      ? [functionCall.arguments]
      : [];
  });
}

/** The text delivered by one response body or one stream chunk. */
export function deliveredTexts(body: unknown): string[] {
  if (!isObject(body) || !Array.isArray(body.choices)) {
    return [];
  }
  return body.choices.flatMap((choice) => {
    if (!isObject(choice)) {
      return [];
    }
    const message = isObject(choice.message)
      ? choice.message
      : isObject(choice.delta)
        ? choice.delta
        : undefined;
    const texts = typeof choice.text === 'string' ? [choice.text] : [];
    if (message) {
      texts.push(...textsOfContent(message.content), ...toolCallTexts(message.tool_calls));
      if (typeof message.reasoning_content === 'string') {
        texts.push(message.reasoning_content);
      }
    }
    return texts;
  });
}
