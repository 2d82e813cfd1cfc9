/**
 * What a replica does with a change on the CatalogChangeBus
 * (platform/shared-state/catalog-change-bus.ts): every admin or provider write that makes
 * something cached on the hot path wrong (a revoked key, a published price, a backend registered,
 * changed or removed, rotated tokens) is announced, and every other replica drops or reloads the
 * affected entries at once instead of waiting for their TTL or refresh interval. The Redis bus is
 * pub/sub, which loses what is sent while a replica is disconnected: so a replica that
 * (re)connects resynchronises everything (`resyncCatalog`), and the TTLs and refresh intervals
 * stay as the bound when the bus is down. Creations need no announcement: nothing caches a miss.
 */
import { z } from 'zod';
import type { BackendChanges, BackendRecord } from '../../db/catalog.ts';
import type { Deps } from '../../deps.ts';
import type { CatalogChange } from '../../platform/shared-state/catalog-change-bus.ts';
import { withLocalFallback } from '../../platform/shared-state/shared-state-health.ts';

const identifier = z.string().min(1).max(256);

/** Messages come from the network: anything that is not exactly a change is ignored. */
const catalogChangeSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('key'), keyId: identifier }),
  z.strictObject({ kind: z.literal('tenant'), tenantId: identifier }),
  z.strictObject({ kind: z.literal('provider'), providerId: identifier }),
  z.strictObject({ kind: z.literal('admin') }),
  z.strictObject({ kind: z.literal('prices') }),
  z.strictObject({ kind: z.literal('backend'), backendId: identifier }),
]);

export function parseCatalogChange(value: unknown): CatalogChange | undefined {
  const parsed = catalogChangeSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** Drops or reloads what the change made wrong in this replica's caches and pool. */
export async function applyCatalogChange(deps: Deps, change: CatalogChange): Promise<void> {
  switch (change.kind) {
    case 'key':
      deps.clients.deleteWhere((identity) => identity.key.id === change.keyId);
      return;
    case 'tenant':
      deps.clients.deleteWhere((identity) => identity.tenant.id === change.tenantId);
      return;
    case 'provider':
      deps.providers.deleteWhere((provider) => provider.id === change.providerId);
      return;
    case 'admin':
      await deps.adminTokens.reload();
      return;
    case 'prices':
      await deps.catalogCache.reload();
      return;
    case 'backend': {
      const record = await deps.catalog.getBackend(change.backendId);
      if (record === undefined || record.state === 'removed') {
        deps.pool.remove(change.backendId);
      } else {
        deps.pool.upsert(record);
        // A backend may bring models the catalog cache has not seen yet.
        await deps.catalogCache.reload();
      }
      return;
    }
  }
}

/** Everything cached from the catalog, read again: after changes may have been missed. */
export async function resyncCatalog(deps: Deps): Promise<void> {
  deps.clients.deleteWhere(() => true);
  deps.providers.deleteWhere(() => true);
  await deps.adminTokens.reload();
  await deps.catalogCache.reload();
  deps.pool.reconcile(await deps.catalog.listLiveBackends());
}

/**
 * Tells the other replicas about a change this replica made and applied. Never fails the write
 * that caused it: when the bus is down, the others see the change within their TTLs instead.
 */
export async function announceCatalogChange(deps: Deps, change: CatalogChange): Promise<void> {
  const { sharedState } = deps;
  await withLocalFallback(
    sharedState.health,
    'catalog_changes',
    deps.clock.nowMs(),
    () => sharedState.catalogChanges.publish(change),
    async () => {},
  );
}

/** Applies the other replicas' changes to this replica's caches, as they arrive. */
export function listenForCatalogChanges(deps: Deps): void {
  deps.sharedState.catalogChanges.subscribe({
    change(change) {
      deps.background.track('apply_catalog_change', applyCatalogChange(deps, change));
    },
    resync() {
      deps.background.track('resync_catalog', resyncCatalog(deps));
    },
  });
}

/**
 * Changes a backend that stays in the pool (approved, reconfigured, drained): writes it to the
 * catalog, applies it to this replica's pool, and tells the others. Returns the changed record.
 */
export async function changeBackend(
  deps: Deps,
  backend: BackendRecord,
  changes: BackendChanges,
): Promise<BackendRecord> {
  const nowMs = deps.clock.nowMs();
  await deps.catalog.updateBackend(backend.id, changes, nowMs);
  const changed: BackendRecord = { ...backend, ...changes, updatedAtMs: nowMs };
  deps.pool.upsert(changed);
  await announceCatalogChange(deps, { kind: 'backend', backendId: backend.id });
  return changed;
}
