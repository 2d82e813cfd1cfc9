/**
 * What a request asks a backend to read, taken from the WHOLE body: message texts, but also tool
 * and function definitions, response formats, documents, stop strings, anything a chat template
 * may render into the prompt. Counting only `messages` let a 2 MB tool description be reserved
 * like a one-line prompt. Images are counted apart (their bytes say nothing of their tokens) and
 * token-id prompts by length. The walk is iterative: the body's depth was bounded when it was
 * parsed, and no recursion here can overflow the stack on a hostile one.
 */

export type PromptContent = {
  /** Every string of the body the backend may read (and nested keys), except the model name. */
  texts: string[];
  /** Prompt or input given as token ids: counted exactly. */
  tokenIdCount: number;
  /** Image parts (`image_url`, `input_image`, `image`): each costs a model-dependent count. */
  imageCount: number;
};

type JsonObject = Record<string, unknown>;

const imagePartTypes = new Set(['image_url', 'input_image', 'image']);

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isImagePart(value: JsonObject): boolean {
  return typeof value.type === 'string' && imagePartTypes.has(value.type);
}

/** Token ids of a `prompt` or `input`: an array of integers, or an array of such arrays. */
function tokenIdsIn(value: unknown): number {
  if (!Array.isArray(value) || value.length === 0) {
    return 0;
  }
  if (value.every((item) => typeof item === 'number')) {
    return value.length;
  }
  let count = 0;
  for (const item of value) {
    if (Array.isArray(item) && item.every((id) => typeof id === 'number')) {
      count += item.length;
    }
  }
  return count;
}

const tokenIdFields = ['prompt', 'input'] as const;

export function promptContentOf(body: JsonObject): PromptContent {
  const content: PromptContent = { texts: [], tokenIdCount: 0, imageCount: 0 };
  const pending: unknown[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (key === 'model') {
      continue;
    }
    if ((tokenIdFields as readonly string[]).includes(key)) {
      content.tokenIdCount += tokenIdsIn(value);
    }
    pending.push(value);
  }
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      content.texts.push(value);
    } else if (Array.isArray(value)) {
      // One at a time: spreading a million token ids into push() overflows the argument limit.
      for (const item of value) {
        pending.push(item);
      }
    } else if (isObject(value)) {
      if (isImagePart(value)) {
        content.imageCount += 1;
        continue;
      }
      // Keys count too: a tool's JSON schema is rendered into the prompt, names and all.
      const keys = Object.keys(value);
      if (keys.length > 0) {
        content.texts.push(keys.join(' '));
      }
      for (const item of Object.values(value)) {
        pending.push(item);
      }
    }
  }
  return content;
}
