/**
 * The `cut` fault's broken responses. A runtime drops the connection when a response body stream
 * errors, so erroring the stream half-way is the runtime-neutral way to cut an answer off.
 */

export class SimulatedCutError extends Error {
  constructor() {
    super('Simulated fault cut: the response was cut off half-way.');
    this.name = 'SimulatedCutError';
    // Runtimes log a body stream's error (@hono/node-server prints it to stderr); this one is on
    // purpose, so one line says enough and a stack trace per cut would only bury real problems.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/**
 * Errors `controller` to cut the response, but only after a turn of the event loop. Node sends a
 * response's first bytes on the next tick (it corks the socket), and dropping the connection
 * before then would lose the bytes meant to arrive before the cut.
 */
export async function cutStream(
  controller: ReadableStreamDefaultController<Uint8Array>,
): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  controller.error(new SimulatedCutError());
}

/**
 * `transfer-encoding: chunked` is set explicitly: without it the Node adapter reads the first
 * chunks ahead to compute a content-length, and a stream that errors during that read ahead ends
 * as a clean, merely short response instead of a dropped connection.
 */
export const streamedBodyHeaders = { 'transfer-encoding': 'chunked' } as const;

/** A 200 JSON response that sends the first half of `json` and then breaks off. */
export function createCutJsonResponse(json: string): Response {
  const bytes = new TextEncoder().encode(json);
  const firstHalf = bytes.subarray(0, Math.floor(bytes.byteLength / 2));
  let firstHalfSent = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (firstHalfSent) {
        await cutStream(controller);
        return;
      }
      firstHalfSent = true;
      controller.enqueue(firstHalf);
    },
  });
  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'application/json', ...streamedBodyHeaders },
  });
}
