/**
 * Which backends may serve a request: the model must be in the key's scope and served by the
 * pool; the tenant's allowed regions are a hard filter that fails closed; of those, a new attempt
 * goes only to one that is routable now (active, healthy, circuit admitting, no Retry-After
 * running), has room, and was not tried yet for this request. Each way of ending up with none has
 * its own error from API.md. Card-hour leases (DESIGN.md §6) carve the pool: a backend leased to
 * another tenant is never a candidate, and a tenant with a running lease of the model is routed
 * to its own leased backends while any of them is routable.
 */
import type { BackendPool, PooledBackend } from '../../backends/backend-pool.ts';
import type { ClientIdentity, Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';

export function modelNotFound(model: string): GatewayError {
  return new GatewayError(
    'model_not_found',
    `The model '${model}' does not exist or you do not have access to it.`,
    { param: 'model' },
  );
}

export function noCapacity(model: string, retryAfterS = 1): GatewayError {
  return new GatewayError('no_capacity', `No backend for '${model}' can take the request now.`, {
    retryAfterS,
  });
}

export function isModelInScope(client: ClientIdentity, model: string): boolean {
  return client.key.models === null || client.key.models.includes(model);
}

/**
 * The backends of the pool allowed for this client and model, whatever their health. A model
 * whose backends are all drained out of the pool has no capacity now; it still exists.
 */
export function allowedBackends(
  deps: Deps,
  client: ClientIdentity,
  model: string,
): readonly PooledBackend[] {
  if (!isModelInScope(client, model) || !deps.pool.knowsModel(model)) {
    throw modelNotFound(model);
  }
  const nowMs = deps.clock.nowMs();
  const serving = deps.pool.serving(model).filter((backend) => {
    const lessee = deps.leaseRegistry.lesseeOf(backend.record.id, nowMs);
    return lessee === undefined || lessee === client.tenant.id;
  });
  if (serving.length === 0) {
    throw noCapacity(model);
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

/** The candidates of a request: the tenant's leased backends first, with their lease. */
export type LeasedCandidates = { backends: readonly PooledBackend[]; leaseId: string | undefined };

/**
 * The tenant's running lease of the model, when one of its backends is routable now: only those
 * backends, and the lease that pays for them. Otherwise the allowed backends, unleased.
 */
export function leasedCandidates(
  deps: Deps,
  client: ClientIdentity,
  model: string,
  allowed: readonly PooledBackend[],
): LeasedCandidates {
  const nowMs = deps.clock.nowMs();
  const running = deps.leaseRegistry.leaseOf(client.tenant.id, model, nowMs);
  const leased = running
    ? allowed.filter((backend) => running.backendIds.has(backend.record.id))
    : [];
  return running && anyRoutable(deps.pool, leased, nowMs)
    ? { backends: leased, leaseId: running.leaseId }
    : { backends: allowed, leaseId: undefined };
}

/** Routable now, with room, and not tried yet for this request. */
export function routableCandidates(
  pool: BackendPool,
  allowed: readonly PooledBackend[],
  triedIds: ReadonlySet<string>,
  nowMs: number,
): PooledBackend[] {
  return allowed.filter(
    (backend) =>
      !triedIds.has(backend.record.id) &&
      pool.isRoutable(backend, nowMs) &&
      pool.hasRoom(backend, nowMs),
  );
}

/** Whether waiting for room can help: some allowed backend is routable, only full. */
export function anyRoutable(
  pool: BackendPool,
  allowed: readonly PooledBackend[],
  nowMs: number,
): boolean {
  return allowed.some((backend) => pool.isRoutable(backend, nowMs));
}

/**
 * Whole seconds until an allowed backend that is out only for a while (its Retry-After, or an
 * open circuit) takes requests again; at least 1.
 */
export function secondsUntilRoutable(allowed: readonly PooledBackend[], nowMs: number): number {
  let soonestMs = Number.POSITIVE_INFINITY;
  for (const backend of allowed) {
    const untilMs = Math.max(
      backend.retryAfterUntilMs ?? 0,
      backend.breaker.state === 'open' ? backend.breaker.openUntilMs : 0,
    );
    if (untilMs > nowMs) {
      soonestMs = Math.min(soonestMs, untilMs);
    }
  }
  return Number.isFinite(soonestMs) ? Math.max(1, Math.ceil((soonestMs - nowMs) / 1000)) : 1;
}
