/**
 * The output a request may produce: its max_tokens when it gives one, else the model's default
 * cap, never above the model's own maximum (`outputTokensMaxByModel` in the limits). Asking for
 * more than that maximum is a 400 naming max_tokens, as OpenAI answers it, not a silent clamp; a
 * request that asks for nothing gets the default; whatever is allowed goes upstream as its cap.
 */
import type { Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';

/** `requested` is max_tokens as asked (0 for embeddings), or undefined for the default. */
export async function outputTokensAllowed(
  deps: Deps,
  model: string,
  requested: number | undefined,
): Promise<number> {
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
    return requested;
  }
  const modelDefault = await deps.catalogCache.outputTokensDefault(
    model,
    limits.outputTokensDefault,
  );
  return modelMax === undefined ? modelDefault : Math.min(modelDefault, modelMax);
}
