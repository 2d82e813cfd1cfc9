/**
 * Streams a crash suite reads chunk by chunk while the gateway may die under them (official
 * OpenAI SDK), and a bounded wait for their progress: a waiter is woken by every chunk any stream
 * receives, never by a timer, and gets the stream whose chunk satisfied it (the one a crash then
 * follows most closely). Shared by crash-recovery and postgres-replica-crash.
 */
import type OpenAI from 'openai';

/** A stream the test reads chunk by chunk while the gateway may die under it. */
export type WatchedStream = {
  legacy: boolean;
  requestId: string | undefined;
  /** Chunks that carried text. */
  tokens: number;
  finished: boolean;
  failure: unknown;
  done: Promise<void>;
};

export type StreamWatcher = {
  /** Starts a long stream and reads it until it ends or breaks. */
  watchStream(legacy: boolean): WatchedStream;
  /** Resolves once `ready()` holds, checked on every chunk any stream receives (bounded). */
  waitForProgress(ready: () => boolean, what: string, timeoutMs?: number): Promise<WatchedStream>;
};

/** `client` is read at each new stream, so a suite that restarts its gateway can swap it. */
export function createStreamWatcher(options: {
  client: () => OpenAI;
  model: string;
  prompt: string;
  outputTokensMax: number;
}): StreamWatcher {
  const { model, prompt, outputTokensMax } = options;
  /** Wakes whoever waits on stream progress; each chunk calls it with its stream. */
  let progressed: (stream: WatchedStream) => void = () => {};

  function watchStream(legacy: boolean): WatchedStream {
    const client = options.client();
    const watched: WatchedStream = {
      legacy,
      requestId: undefined,
      tokens: 0,
      finished: false,
      failure: undefined,
      done: Promise.resolve(),
    };
    watched.done = (async () => {
      try {
        if (legacy) {
          const { data, response } = await client.completions
            .create({ model, prompt, max_tokens: outputTokensMax, stream: true })
            .withResponse();
          watched.requestId = response.headers.get('x-request-id') ?? undefined;
          for await (const chunk of data) {
            watched.tokens += chunk.choices[0]?.text ? 1 : 0;
            watched.finished ||= chunk.choices[0]?.finish_reason != null;
            progressed(watched);
          }
        } else {
          const { data, response } = await client.chat.completions
            .create({
              model,
              messages: [{ role: 'user', content: prompt }],
              max_tokens: outputTokensMax,
              stream: true,
            })
            .withResponse();
          watched.requestId = response.headers.get('x-request-id') ?? undefined;
          for await (const chunk of data) {
            watched.tokens += chunk.choices[0]?.delta.content ? 1 : 0;
            watched.finished ||= chunk.choices[0]?.finish_reason != null;
            progressed(watched);
          }
        }
      } catch (error) {
        watched.failure = error;
      } finally {
        progressed(watched);
      }
    })();
    return watched;
  }

  function waitForProgress(
    ready: () => boolean,
    what: string,
    timeoutMs = 20_000,
  ): Promise<WatchedStream> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        progressed = () => {};
        reject(new Error(`gave up waiting for ${what}`));
      }, timeoutMs);
      progressed = (stream) => {
        if (ready()) {
          clearTimeout(timer);
          progressed = () => {};
          resolve(stream);
        }
      };
    });
  }

  return { watchStream, waitForProgress };
}
