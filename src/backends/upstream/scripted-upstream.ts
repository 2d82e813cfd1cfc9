/**
 * An Upstream that answers from a script, for unit tests of what the gateway does with each kind
 * of backend behaviour (openai-node tests its retries the same way, with a scripted fetch). Each
 * backend answers its requests with its script's entries in order; a request past the end of a
 * script is a bug in the test and fails loudly. Failures are the UpstreamErrors the Node runtime
 * raises for the same events, so the code under test sees what it would see in production.
 */
import {
  type Upstream,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
} from './upstream.ts';

/** What a backend does with one request. */
export type ScriptedAnswer = (request: UpstreamRequest) => Promise<UpstreamResponse>;

export type ScriptedUpstream = Upstream & {
  /** The backend ids requests were sent to, in order. */
  readonly sentTo: readonly string[];
};

export function scriptedUpstream(
  scripts: Readonly<Record<string, readonly ScriptedAnswer[]>>,
): ScriptedUpstream {
  const sentTo: string[] = [];
  const answeredCountById = new Map<string, number>();
  return {
    sentTo,
    send(target, request) {
      sentTo.push(target.id);
      const index = answeredCountById.get(target.id) ?? 0;
      answeredCountById.set(target.id, index + 1);
      const answer = scripts[target.id]?.[index];
      if (answer === undefined) {
        throw new Error(`backend ${target.id} has no scripted answer for request ${index + 1}`);
      }
      return answer(request);
    },
    forget() {
      // Nothing is kept per backend.
    },
    async close() {
      // Nothing to close.
    },
  };
}

const encoder = new TextEncoder();

function bodyOf(chunks: readonly string[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) {
        controller.enqueue(encoder.encode(chunk));
      }
      controller.close();
    },
  });
}

function abortedError(): UpstreamError {
  return new UpstreamError('aborted', 'This operation was aborted');
}

/** Answers with a status and a body sent whole. */
export function answerStatus(
  status: number,
  body = '{}',
  headers: Record<string, string> = {},
): ScriptedAnswer {
  return async () => ({
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: bodyOf([body]),
  });
}

/** Answers 200 with an event stream of these chunks, each as its own network read. */
export function answerStream(chunks: readonly string[]): ScriptedAnswer {
  return async () => ({
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
    body: bodyOf(chunks),
  });
}

/** Answers 200 with headers, then sends nothing until the request is aborted. */
export function answerSilentStream(): ScriptedAnswer {
  return async (request) => ({
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
    body: new ReadableStream<Uint8Array>({
      start(controller) {
        request.signal.addEventListener('abort', () => controller.error(abortedError()), {
          once: true,
        });
      },
    }),
  });
}

/** Answers 200 with the start of a body, then breaks the connection. */
export function answerCutShort(start: string): ScriptedAnswer {
  return async () => ({
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(start));
        controller.error(new UpstreamError('protocol', 'other side closed'));
      },
    }),
  });
}

/** Refuses the connection. */
export function refuseConnection(): ScriptedAnswer {
  return async () => {
    throw new UpstreamError('connect', 'connect ECONNREFUSED');
  };
}

/** Throws what no upstream should: an error that is not an UpstreamError. */
export function throwUnexpected(error: Error): ScriptedAnswer {
  return async () => {
    throw error;
  };
}

/**
 * Never answers: calls `onSent` once the request is out, then fails only when the request is
 * aborted.
 */
export function hangUntilAborted(onSent: () => void = () => {}): ScriptedAnswer {
  return (request) =>
    new Promise<UpstreamResponse>((_resolve, reject) => {
      if (request.signal.aborted) {
        reject(abortedError());
        return;
      }
      request.signal.addEventListener('abort', () => reject(abortedError()), { once: true });
      onSent();
    });
}
