/**
 * The mock OpenAI upstream behind every server under test: plain node:http with answers built
 * once at start, so its own cost per request is small and the same whichever proxy calls it.
 *
 * One process, two listeners:
 * - fast: POST /v1/chat/completions answers a fixed JSON completion with usage, or, when the body
 *   asks for `stream: true`, an SSE stream (role, a handful of content chunks, finish, usage,
 *   [DONE]) written at once;
 * - slow: the same stream, one content chunk every `slowChunkIntervalMs`, for the memory part
 *   (many streams held open at the same time). A second port, not a header, picks it, because
 *   a gateway forwards its own upstream headers, not the client's.
 * Both answer GET /v1/models (a gateway's health probe) and 404 to anything else.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type MockUpstreamOptions = {
  host: string;
  /** Pause between two content chunks of a slow stream. */
  slowChunkIntervalMs: number;
  /** Content chunks of a slow stream; its length is about their product. */
  slowChunkCount: number;
};

export type MockUpstream = { fastUrl: string; slowUrl: string; close(): Promise<void> };

/** Requests bodies above this are refused: nothing the bench sends comes near it. */
const requestBodyBytesMax = 1024 * 1024;
/** Idle keep-alive connections live longer than any pause between two bench phases. */
const keepAliveTimeoutMs = 120_000;

const model = 'mock-model';
const words = [
  'The',
  ' gateway',
  ' counts',
  ' every',
  ' token',
  ' it',
  ' relays',
  ' from',
  ' the',
  ' pool',
  ' of',
  ' idle',
  ' machines',
  ' and',
  ' bills',
  ' each',
  ' tenant',
  ' exactly',
  ' once',
  '.',
];
const promptTokens = 25;

const completionBytes = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: words.join(''), refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: words.length,
      total_tokens: promptTokens + words.length,
    },
  }),
);

function sseEvent(choices: unknown[], usage?: Record<string, number>): Buffer {
  const chunk = {
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model,
    choices,
    ...(usage === undefined ? {} : { usage }),
  };
  return Buffer.from(`data: ${JSON.stringify(chunk)}\n\n`);
}

/** The events of one stream with `contentCount` content chunks, each a separate buffer. */
function streamEvents(contentCount: number): Buffer[] {
  const events = [sseEvent([{ index: 0, delta: { role: 'assistant', content: '' } }])];
  for (let index = 0; index < contentCount; index += 1) {
    const content = words[index % words.length] ?? ' token';
    events.push(sseEvent([{ index: 0, delta: { content }, finish_reason: null }]));
  }
  events.push(sseEvent([{ index: 0, delta: {}, finish_reason: 'stop' }]));
  events.push(
    sseEvent([], {
      prompt_tokens: promptTokens,
      completion_tokens: contentCount,
      total_tokens: promptTokens + contentCount,
    }),
  );
  events.push(Buffer.from('data: [DONE]\n\n'));
  return events;
}

const fastStreamBytes = Buffer.concat(streamEvents(words.length));
const modelsBytes = Buffer.from(
  JSON.stringify({ object: 'list', data: [{ id: model, object: 'model', owned_by: 'bench' }] }),
);
const notFoundBytes = Buffer.from(
  '{"error":{"message":"not found","type":"invalid_request_error"}}',
);

const jsonHeaders = { 'content-type': 'application/json' };
const streamHeaders = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let byteCount = 0;
    request.on('data', (part: Buffer) => {
      byteCount += part.length;
      if (byteCount > requestBodyBytesMax) {
        request.destroy(new Error('request body too large'));
        return;
      }
      parts.push(part);
    });
    request.once('end', () =>
      resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)),
    );
    request.once('error', reject);
  });
}

function wantsStream(body: Buffer): boolean {
  try {
    return (JSON.parse(body.toString('utf8')) as { stream?: unknown }).stream === true;
  } catch {
    return false;
  }
}

/**
 * Writes every slow stream's next event on one shared timer, so a thousand open streams cost one
 * timer, not a thousand.
 */
function createSlowStreamer(events: readonly Buffer[], intervalMs: number) {
  const open = new Map<ServerResponse, number>();
  const timer = setInterval(() => {
    for (const [response, nextIndex] of open) {
      const event = events[nextIndex];
      if (event === undefined) {
        open.delete(response);
        response.end();
        continue;
      }
      response.write(event);
      open.set(response, nextIndex + 1);
    }
  }, intervalMs);
  timer.unref();
  return {
    start(response: ServerResponse): void {
      response.writeHead(200, streamHeaders);
      response.write(events[0]);
      open.set(response, 1);
      response.once('close', () => open.delete(response));
    },
    stop: () => clearInterval(timer),
  };
}

type StreamStarter = (response: ServerResponse) => void;

function handler(startStream: StreamStarter) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    if (request.method === 'GET' && request.url === '/v1/models') {
      response.writeHead(200, jsonHeaders).end(modelsBytes);
      return;
    }
    if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
      request.resume();
      response.writeHead(404, jsonHeaders).end(notFoundBytes);
      return;
    }
    readBody(request).then(
      (body) => {
        if (wantsStream(body)) {
          startStream(response);
          return;
        }
        response.writeHead(200, { ...jsonHeaders, 'content-length': completionBytes.length });
        response.end(completionBytes);
      },
      () => response.destroy(),
    );
  };
}

function listen(server: Server, host: string): Promise<string> {
  server.keepAliveTimeout = keepAliveTimeoutMs;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://${host}:${port}`);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startMockUpstream(options: MockUpstreamOptions): Promise<MockUpstream> {
  const slowStreamer = createSlowStreamer(
    streamEvents(options.slowChunkCount),
    options.slowChunkIntervalMs,
  );
  const fastServer = createServer(
    handler((response) => {
      response.writeHead(200, streamHeaders);
      response.end(fastStreamBytes);
    }),
  );
  const slowServer = createServer(handler(slowStreamer.start));
  const fastUrl = await listen(fastServer, options.host);
  const slowUrl = await listen(slowServer, options.host);
  return {
    fastUrl,
    slowUrl,
    async close() {
      slowStreamer.stop();
      await Promise.all([closeServer(fastServer), closeServer(slowServer)]);
    },
  };
}
