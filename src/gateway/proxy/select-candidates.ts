/**
 * Which backends may serve a request: the model must be in the key's scope and served by the
 * pool; the tenant's allowed regions are a hard filter that fails closed; only healthy, active
 * backends not tried yet for this request remain. Each way of ending up with none has its own
 * error from API.md.
 */
import { isRoutable, type PooledBackend } from '../../backends/backend-pool.ts';
import type { ClientIdentity, Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';

export function modelNotFound(model: string): GatewayError {
  return new GatewayError(
    'model_not_found',
    `The model '${model}' does not exist or you do not have access to it.`,
    { param: 'model' },
  );
}

export function isModelInScope(client: ClientIdentity, model: string): boolean {
  return client.key.models === null || client.key.models.includes(model);
}

/** The backends of the pool allowed for this client and model, whatever their health. */
export function allowedBackends(
  deps: Deps,
  client: ClientIdentity,
  model: string,
): readonly PooledBackend[] {
  const serving = deps.pool.serving(model);
  if (!isModelInScope(client, model) || serving.length === 0) {
    throw modelNotFound(model);
  }
  const allowedRegions = client.tenant.allowedRegions;
  if (allowedRegions === null) {
    return serving;
  }
  const allowed = serving.filter((backend) => allowedRegions.includes(backend.record.region));
  if (allowed.length === 0) {
    throw new GatewayError(
      'no_backend_in_allowed_regions',
      `No backend serving '${model}' is in the regions this tenant may use (${allowedRegions.join(', ')}).`,
    );
  }
  return allowed;
}

export function routableCandidates(
  allowed: readonly PooledBackend[],
  triedIds: ReadonlySet<string>,
): PooledBackend[] {
  return allowed.filter((backend) => isRoutable(backend) && !triedIds.has(backend.record.id));
}
