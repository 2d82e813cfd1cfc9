/**
 * The official OpenAI SDK pointed at a gateway over real HTTP, as an SME's app would use it, with
 * one change: its requests go through the project's undici (7.x) rather than the fetch bundled
 * with Node 20 (undici 6.x). That fetch can leave a stream's reader pending forever when the
 * client aborts after the whole body arrived but before it was read (nodejs/undici#4089, fixed
 * in 7.x): a test that abandons a fast stream would then hang, for a reason outside tokenbank.
 */
import OpenAI, { APIError } from 'openai';
import { type Dispatcher, fetch as undiciFetch } from 'undici';

/** With a `dispatcher`, the client's connections are that one's rather than the process-wide pool. */
export function gatewayClient(options: {
  baseURL: string;
  apiKey: string;
  timeoutMs: number;
  dispatcher?: Dispatcher;
}): OpenAI {
  const { dispatcher } = options;
  return new OpenAI({
    ...clientOptions(options),
    fetch: undiciFetch as unknown as typeof globalThis.fetch,
    ...(dispatcher === undefined ? {} : { fetchOptions: { dispatcher } }),
  });
}

function clientOptions(options: { baseURL: string; apiKey: string; timeoutMs: number }) {
  return {
    baseURL: options.baseURL,
    apiKey: options.apiKey,
    maxRetries: 0,
    timeout: options.timeoutMs,
  };
}

/**
 * The SDK with Node's own fetch, for uploads: the SDK builds a file upload with Node's global
 * FormData, which only that fetch takes (undici 7 has a FormData of its own). Fine for anything
 * but streams, which are what the client above is for.
 */
export function uploadingClient(options: Parameters<typeof gatewayClient>[0]): OpenAI {
  return new OpenAI({ ...clientOptions(options), fetch: globalThis.fetch });
}

/** Runs an SDK call that must fail and returns the SDK's error. */
export async function sdkFailure(request: Promise<unknown>): Promise<APIError> {
  try {
    await request;
  } catch (error) {
    if (error instanceof APIError) {
      return error;
    }
    throw error;
  }
  throw new Error('the request succeeded but was expected to fail');
}
