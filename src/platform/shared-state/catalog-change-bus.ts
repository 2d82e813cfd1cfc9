/**
 * The CatalogChangeBus port: every admin or provider write that makes something cached on the
 * hot path wrong is announced, so the other replicas drop or reload it at once instead of waiting
 * for their TTL (gateway/replicas/catalog-changes.ts applies a change; the Redis bus is in
 * runtime/node/redis/). Without Redis there is no one to tell.
 */

export type CatalogChange =
  | { kind: 'key'; keyId: string }
  | { kind: 'tenant'; tenantId: string }
  | { kind: 'provider'; providerId: string }
  /** The admin tokens were rotated: every replica reads them again. */
  | { kind: 'admin' }
  /** Price versions or model settings: the catalog cache reloads. */
  | { kind: 'prices' }
  | { kind: 'backend'; backendId: string };

export type CatalogChangeHandlers = {
  /** A change announced by another replica. */
  change(change: CatalogChange): void;
  /** Changes may have been missed (the bus reconnected): reload everything cached. */
  resync(): void;
};

export type CatalogChangeBus = {
  /** Tells the other replicas; this replica applies its own change itself. */
  publish(change: CatalogChange): Promise<void>;
  subscribe(handlers: CatalogChangeHandlers): void;
};

/** One gateway alone: its routes already apply their changes to its caches. */
export const localCatalogChangeBus: CatalogChangeBus = {
  publish: async () => {},
  subscribe: () => {},
};
