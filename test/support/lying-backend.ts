/**
 * An OpenAI-compatible backend written to lie, for the untrusted-parties suite: a provider the
 * bank does not control. What it does is chosen by the last message of each request (`lie:NAME`),
 * since the gateway forwards only the fields it understands; every body it receives is kept, so
 * a test can see exactly what the gateway sent upstream.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';

export type Lie =
  | 'honest'
  | 'heavy-input'
  | 'inflate'
  | 'inflate-stream'
  | 'usage-on-first-chunk'
  | 'negative'
  | 'not-json'
  | 'slow-stream';

export type LyingBackend = {
  url: string;
  /** Bodies received on /v1/chat/completions, oldest first. */
  received: Record<string, unknown>[];
  close(): Promise<void>;
};

const answer = 'lies and more lies';
const huge = 2_000_000_000;

function lieOf(body: Record<string, unknown>): Lie {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages.at(-1) as { content?: unknown } | undefined;
  const match = typeof last?.content === 'string' ? /lie:([a-z-]+)/.exec(last.content) : null;
  return (match?.[1] as Lie | undefined) ?? 'honest';
}

function promptBytes(body: Record<string, unknown>): number {
  const messages = Array.isArray(body.messages) ? (body.messages as { content?: unknown }[]) : [];
  const encoder = new TextEncoder();
  return messages.reduce(
    (total, message) =>
      total + (typeof message.content === 'string' ? encoder.encode(message.content).length : 0),
    0,
  );
}

function completion(usage: unknown) {
  return {
    id: 'chatcmpl-liar',
    object: 'chat.completion',
    created: 1,
    model: 'liar',
    choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
    usage,
  };
}

function chunk(content: string | undefined, usage?: unknown) {
  return JSON.stringify({
    id: 'chatcmpl-liar',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'liar',
    choices: content === undefined ? [] : [{ index: 0, delta: { content }, finish_reason: null }],
    ...(usage === undefined ? {} : { usage }),
  });
}

function createLyingApp(received: Record<string, unknown>[], fixedLie: Lie | undefined): Hono {
  const app = new Hono();
  app.get('/v1/models', (c) => c.json({ object: 'list', data: [] }));
  app.post('/v1/chat/completions', async (c) => {
    if (fixedLie !== undefined) {
      // Megabytes of prompt are read and dropped unparsed: this process also times the victims.
      await c.req.arrayBuffer();
      return c.json(completion({ prompt_tokens: -5, completion_tokens: -100 }));
    }
    const body = (await c.req.json()) as Record<string, unknown>;
    received.push(body);
    const lie = lieOf(body);
    switch (lie) {
      case 'inflate':
        return c.json(completion({ prompt_tokens: huge, completion_tokens: huge }));
      case 'heavy-input':
        // A token per byte of the prompt: within the bound, far above the gateway's estimate.
        return c.json(completion({ prompt_tokens: promptBytes(body), completion_tokens: 1 }));
      case 'negative':
        return c.json(completion({ prompt_tokens: -5, completion_tokens: -100 }));
      case 'not-json':
        return c.body(`this is not JSON: ${answer}`, 200, { 'content-type': 'application/json' });
      case 'honest':
        return body.stream === true
          ? streamSSE(c, async (stream) => {
              await stream.writeSSE({ data: chunk(answer) });
              await stream.writeSSE({ data: chunk(undefined, honestUsage) });
              await stream.writeSSE({ data: '[DONE]' });
            })
          : c.json(completion(honestUsage));
      default:
        return streamSSE(c, (stream) => streamLie(lie, stream));
    }
  });
  return app;
}

const honestUsage = { prompt_tokens: 12, completion_tokens: 5 };

type SseWriter = {
  writeSSE(message: { data: string }): Promise<void>;
  sleep(ms: number): Promise<unknown>;
  aborted: boolean;
};

async function streamLie(lie: Lie, stream: SseWriter): Promise<void> {
  if (lie === 'slow-stream') {
    // A token every 200 ms, for as long as anyone listens: longer than any request may run.
    while (!stream.aborted) {
      await stream.writeSSE({ data: chunk(' slow') });
      await stream.sleep(200);
    }
    return;
  }
  if (lie === 'usage-on-first-chunk') {
    await stream.writeSSE({ data: chunk(answer, { prompt_tokens: 3, completion_tokens: huge }) });
    await stream.writeSSE({ data: '[DONE]' });
    return;
  }
  await stream.writeSSE({ data: chunk(answer) });
  await stream.writeSSE({
    data: chunk(undefined, { prompt_tokens: huge, completion_tokens: huge }),
  });
  await stream.writeSSE({ data: '[DONE]' });
}

/**
 * `fixedLie: 'negative'` answers every request with negative usage without reading its body as
 * JSON (for prompts of megabytes); otherwise each request names its lie.
 */
export function serveLyingBackend(options: { fixedLie?: 'negative' } = {}): Promise<LyingBackend> {
  const received: Record<string, unknown>[] = [];
  const app = createLyingApp(received, options.fixedLie);
  return new Promise((resolve) => {
    const server = serve(
      { fetch: app.fetch, hostname: '127.0.0.1', port: 0 },
      (info: AddressInfo) =>
        resolve({
          url: `http://127.0.0.1:${info.port}/v1`,
          received,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              (server as { closeAllConnections?: () => void }).closeAllConnections?.();
            }),
        }),
    );
  });
}
