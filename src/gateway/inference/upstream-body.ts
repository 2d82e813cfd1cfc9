/**
 * The body sent upstream. The client's bytes go as they came, with two exceptions: a stream
 * always asks for usage (`stream_options.include_usage`), and a request whose max_tokens the
 * tenant let the gateway lower carries the lowered value. Adding include_usage to a body without
 * stream_options is a byte splice; anything else re-serialises the parsed body.
 */

type RequestFields = {
  stream?: boolean | null | undefined;
  stream_options?: { include_usage?: boolean | undefined } | null | undefined;
  max_completion_tokens?: number | null | undefined;
};

export type UpstreamBodyPlan = {
  bytes: Uint8Array;
  /** The gateway asked for usage the client did not: its usage chunk must be withheld. */
  usageInjected: boolean;
};

const encoder = new TextEncoder();
const usageOption = encoder.encode('"stream_options":{"include_usage":true},');
const openingBrace = 0x7b;

function spliceAfterOpeningBrace(bytes: Uint8Array, insert: Uint8Array): Uint8Array {
  const brace = bytes.indexOf(openingBrace);
  const spliced = new Uint8Array(bytes.length + insert.length);
  spliced.set(bytes.subarray(0, brace + 1), 0);
  spliced.set(insert, brace + 1);
  spliced.set(bytes.subarray(brace + 1), brace + 1 + insert.length);
  return spliced;
}

export function planUpstreamBody(
  bytes: Uint8Array,
  value: RequestFields & Record<string, unknown>,
  clampedOutputTokens: number | undefined,
): UpstreamBodyPlan {
  const stream = value.stream === true;
  const usageInjected = stream && value.stream_options?.include_usage !== true;
  if (clampedOutputTokens === undefined && !usageInjected) {
    return { bytes, usageInjected };
  }
  if (clampedOutputTokens === undefined && value.stream_options === undefined) {
    return { bytes: spliceAfterOpeningBrace(bytes, usageOption), usageInjected };
  }
  const rewritten: Record<string, unknown> = { ...value };
  if (usageInjected) {
    rewritten.stream_options = { ...(value.stream_options ?? {}), include_usage: true };
  }
  if (clampedOutputTokens !== undefined) {
    const field =
      typeof value.max_completion_tokens === 'number' ? 'max_completion_tokens' : 'max_tokens';
    rewritten[field] = clampedOutputTokens;
  }
  return { bytes: encoder.encode(JSON.stringify(rewritten)), usageInjected };
}
