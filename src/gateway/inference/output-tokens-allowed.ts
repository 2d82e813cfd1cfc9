/**
 * The output a request may produce: its max_tokens when it gives one, else the model's default
 * cap, never above the model's own maximum (`outputTokensMaxByModel` in the limits). Asking for
 * more than that maximum is a 400 naming max_tokens, as OpenAI answers it, not a silent clamp; a
 * request that asks for nothing gets the maximum sent upstream as its max_tokens, so the backend
 * cannot generate past it either.
 */
import type { Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';

export type OutputTokensAllowed = {
  outputTokensMax: number;
  /** The model's maximum applies to a request that gave no max_tokens: send it upstream. */
  capped: boolean;
};

/** `requested` is max_tokens as asked (0 for embeddings), or undefined for the default. */
export async function outputTokensAllowed(
  deps: Deps,
  model: string,
  requested: number | undefined,
): Promise<OutputTokensAllowed> {
  const { limits } = deps.config;
  const modelMax = Object.hasOwn(limits.outputTokensMaxByModel, model)
    ? limits.outputTokensMaxByModel[model]
    : undefined;
  if (requested !== undefined) {
    if (modelMax !== undefined && requested > modelMax) {
      throw new GatewayError(
        'invalid_request',
        `max_tokens is at most ${modelMax} for the model '${model}'; ${requested} was asked for.`,
        { param: 'max_tokens' },
      );
    }
    return { outputTokensMax: requested, capped: false };
  }
  const modelDefault = await deps.catalogCache.outputTokensDefault(
    model,
    limits.outputTokensDefault,
  );
  return modelMax === undefined
    ? { outputTokensMax: modelDefault, capped: false }
    : { outputTokensMax: Math.min(modelDefault, modelMax), capped: true };
}
