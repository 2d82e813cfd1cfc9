/**
 * Helpers for tests that drive a simulator in-process through `app.request`: a fast simulator (so
 * tests finish without waiting on real time), JSON posts and SSE parsing. Used by this folder's
 * tests and by other modules' tests that need an OpenAI-compatible upstream without sockets.
 */

import { createSimulatorApp, type SimulatorApp } from './simulator-app.ts';
import type { SimulatorPorts } from './simulator-context.ts';
import type { SimulatorOptionsInput } from './simulator-options.ts';

/** A simulator whose generations finish in well under a millisecond per token, with no jitter. */
export function createFastSimulator(
  options: Partial<SimulatorOptionsInput> = {},
  ports: SimulatorPorts = {},
): SimulatorApp {
  return createSimulatorApp(
    {
      models: ['sim-model'],
      prefillTokensPerSecond: 10_000_000,
      decodeTokensPerSecond: 1_000_000,
      latencyJitterFraction: 0,
      ...options,
    },
    ports,
  );
}

export function postJson(
  simulator: SimulatorApp,
  path: string,
  body: unknown,
  init: RequestInit = {},
): Promise<Response> {
  return Promise.resolve(
    simulator.app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      ...init,
    }),
  );
}

/** The `data:` payloads of an SSE body, in order; `[DONE]` stays a string, the rest is parsed. */
export function parseServerSentEvents(text: string): unknown[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => {
      const data = event.slice('data: '.length);
      return data === '[DONE]' ? data : JSON.parse(data);
    });
}

/**
 * Reads a body until it ends or breaks, returning what arrived and whether it broke: a cut
 * response delivers some bytes and then fails.
 */
export async function readUntilBroken(
  response: Response,
): Promise<{ text: string; broken: boolean }> {
  const reader = response.body?.getReader();
  if (reader === undefined) {
    return { text: '', broken: false };
  }
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) {
        return { text, broken: false };
      }
      text += decoder.decode(chunk.value, { stream: true });
    }
  } catch {
    return { text, broken: true };
  }
}
