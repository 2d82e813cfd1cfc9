/**
 * The body sent upstream, rebuilt from the normalised request (inference-request.ts): the fields
 * forwarded as given, then the metered ones as the gateway decided them. The output cap is always
 * set, to what was reserved per choice, so a backend is never left to its own default (a request
 * without max_tokens used to go out uncapped while 4,096 tokens were reserved); a stream always
 * asks for usage, and the usage chunk a client did not ask for is withheld from it.
 */
import type { InferenceRequest } from './inference-request.ts';

export type UpstreamBody = {
  bytes: Uint8Array;
  /** The gateway asked for usage the client did not: its usage chunk must be withheld. */
  usageInjected: boolean;
};

const encoder = new TextEncoder();

export function upstreamBody(
  request: InferenceRequest,
  outputTokensPerChoice: number,
): UpstreamBody {
  const body: Record<string, unknown> = { ...request.forwardedFields, model: request.model };
  if (request.endpoint.producesOutput) {
    body[request.outputField] = outputTokensPerChoice;
  }
  if (request.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return {
    bytes: encoder.encode(JSON.stringify(body)),
    usageInjected: request.stream && !request.usageAsked,
  };
}
