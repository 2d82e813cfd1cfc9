/**
 * The text a response delivers, as plain strings for counting: answer contents, completion
 * texts and stream deltas (tool-call arguments and reasoning count as output too). What a
 * request carries is prompt-content.ts's.
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
