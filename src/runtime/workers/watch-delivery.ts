/**
 * When a Worker's response has been delivered. workerd keeps a request's work alive while its
 * response body streams and cancels what is still in flight once it is done, unless handed to
 * waitUntil; a stream's settlement starts only as its last byte is relayed, after the handler
 * returned. The body is passed through unchanged and `delivered` settles once it ended, failed
 * or the client left.
 */
export function watchDelivery(response: Response): {
  response: Response;
  delivered: Promise<void>;
} {
  const source = response.body;
  if (source === null) {
    return { response, delivered: Promise.resolve() };
  }
  const reader = source.getReader();
  let markDelivered: () => void = () => undefined;
  const delivered = new Promise<void>((resolve) => {
    markDelivered = resolve;
  });
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          markDelivered();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        controller.error(error);
        markDelivered();
      }
    },
    async cancel(reason) {
      try {
        await reader.cancel(reason);
      } finally {
        markDelivered();
      }
    },
  });
  return { response: new Response(body, response), delivered };
}
