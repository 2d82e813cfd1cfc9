/**
 * The body sent upstream, rebuilt from the normalised request (inference-request.ts): the fields
 * forwarded as given, then the metered ones as the gateway decided them. The output cap is always
 * set, to what was reserved per choice, so a backend is never left to its own default (a request
 * without max_tokens used to go out uncapped while 4,096 tokens were reserved); a stream always
 * asks for usage (the chunk a client did not ask for is withheld from it: `usageWithheld`).
 */
import type { InferenceRequest } from './inference-request.ts';

const encoder = new TextEncoder();

export function upstreamBody(request: InferenceRequest, outputTokensPerChoice: number): Uint8Array {
  const body: Record<string, unknown> = { ...request.forwardedFields, model: request.model };
  if (request.endpoint.producesOutput) {
    body[request.outputField] = outputTokensPerChoice;
  }
  if (request.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return encoder.encode(JSON.stringify(body));
}
