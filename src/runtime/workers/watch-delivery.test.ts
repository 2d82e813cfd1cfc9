import { describe, expect, it } from 'vitest';
import { watchDelivery } from './watch-delivery.ts';

const encoder = new TextEncoder();

/** A body of `chunks`, one per read. */
function chunkedBody(chunks: readonly string[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[next];
      next += 1;
      if (chunk === undefined) {
        controller.close();
      } else {
        controller.enqueue(encoder.encode(chunk));
      }
    },
  });
}

/** True once `promise` has settled, as seen after the microtasks queued so far. */
async function hasSettled(promise: Promise<void>): Promise<boolean> {
  let settled = false;
  void promise.then(() => {
    settled = true;
  });
  await new Promise<void>((resolve) => queueMicrotask(resolve));
  await Promise.resolve();
  return settled;
}

describe('watchDelivery', () => {
  it('passes status, headers and body through and tells when the body has been read to its end', async () => {
    const original = new Response(chunkedBody(['data: one\n\n', 'data: two\n\n']), {
      status: 201,
      headers: { 'content-type': 'text/event-stream', 'x-request-id': 'request-1' },
    });
    const { response, delivered } = watchDelivery(original);
    expect(response.status).toBe(201);
    expect(response.headers.get('x-request-id')).toBe('request-1');
    expect(await hasSettled(delivered)).toBe(false);
    expect(await response.text()).toBe('data: one\n\ndata: two\n\n');
    await expect(delivered).resolves.toBeUndefined();
  });

  it('tells when the client left, and cancels the body it watched with the same reason', async () => {
    // One event, then the backend keeps the stream open.
    let cancelReason: unknown;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode('data: one\n\n'));
      },
      cancel(reason) {
        cancelReason = reason;
      },
    });
    const { response, delivered } = watchDelivery(new Response(body));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    expect(await hasSettled(delivered)).toBe(false);
    await reader.cancel('client gone');
    await expect(delivered).resolves.toBeUndefined();
    expect(cancelReason).toBe('client gone');
  });

  it('tells when the body failed, and hands the failure on', async () => {
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(new Error('backend broke'));
      },
    });
    const { response, delivered } = watchDelivery(new Response(failing));
    await expect(response.text()).rejects.toThrow('backend broke');
    await expect(delivered).resolves.toBeUndefined();
  });

  it('has nothing to wait for without a body', async () => {
    const original = new Response(null, { status: 204 });
    const { response, delivered } = watchDelivery(original);
    expect(response).toBe(original);
    await expect(delivered).resolves.toBeUndefined();
  });
});
