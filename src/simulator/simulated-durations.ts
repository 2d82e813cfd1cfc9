/**
 * How long simulated work takes, from the configured speeds. One place for the arithmetic so
 * completions and embeddings slow down the same way under the `slow` fault.
 */

import type { SimulatorOptions } from './simulator-options.ts';

type SpeedOptions = Pick<
  SimulatorOptions,
  'latencyMs' | 'prefillTokensPerSecond' | 'decodeTokensPerSecond'
>;

/** How much slower prefill and decode run under the `slow` fault. */
export const slowFactor = 10;

/** Base latency plus prompt processing: the time to the first token once a slot is held. */
export function prefillDurationMs(
  options: SpeedOptions,
  promptTokens: number,
  slow: boolean,
): number {
  const factor = slow ? slowFactor : 1;
  return options.latencyMs + (promptTokens / options.prefillTokensPerSecond) * 1000 * factor;
}

/** The time between two generated tokens. */
export function decodeStepDurationMs(options: SpeedOptions, slow: boolean): number {
  const factor = slow ? slowFactor : 1;
  return (1000 / options.decodeTokensPerSecond) * factor;
}
