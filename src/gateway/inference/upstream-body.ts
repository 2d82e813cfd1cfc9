/**
 * The body sent upstream, rebuilt from the normalised request (inference-request.ts): the fields
 * forwarded as given, then the metered ones as the gateway decided them. The output cap is always
 * set, to what was reserved per choice, so a backend is never left to its own default (a request
 * without max_tokens used to go out uncapped while 4,096 tokens were reserved); a stream always
 * asks for usage (the chunk a client did not ask for is withheld from it: `usageWithheld`).
 */
import type { InferenceRequest } from './inference-request.ts';

const encoder = new TextEncoder();

/**
 * The metered fields are appended to the forwarded ones as text: the forwarded fields never hold
 * them (forwarded-fields.ts passes only unmetered fields, and the prompt), and a spread copy of the
 * body to add them cost more than serialising it.
 */
export function upstreamBody(request: InferenceRequest, outputTokensPerChoice: number): Uint8Array {
  let metered = `"model":${JSON.stringify(request.model)}`;
  if (request.endpoint.producesOutput) {
    metered += `,"${request.outputField}":${outputTokensPerChoice}`;
  }
  if (request.stream) {
    metered += ',"stream":true,"stream_options":{"include_usage":true}';
  }
  const forwarded = JSON.stringify(request.forwardedFields);
  const text = forwarded === '{}' ? `{${metered}}` : `${forwarded.slice(0, -1)},${metered}}`;
  return encoder.encode(text);
}
