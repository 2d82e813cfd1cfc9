/**
 * The Catalog port: tenants, keys, providers, backends, models, prices, the admin credential, and
 * the per-day usage totals a trigger keeps beside the ledger's usage records.
 * Routes and the auth middleware read and write through it; each store (SQLite now, PostgreSQL
 * for several replicas) implements it. Row types come from the drizzle schema.
 */
import type {
  adminCredentials,
  apiKeys,
  backends,
  meterPrices,
  models,
  prices,
  providerPayoutRates,
  providers,
  tenants,
  usageDaily,
} from './schema.ts';

export type TenantRecord = typeof tenants.$inferSelect;
export type ApiKeyRecord = typeof apiKeys.$inferSelect;
export type ProviderRecord = typeof providers.$inferSelect;
export type BackendRecord = typeof backends.$inferSelect;
export type ModelRecord = typeof models.$inferSelect;
export type PriceRecord = typeof prices.$inferSelect;
export type MeterPriceRecord = typeof meterPrices.$inferSelect;
export type AdminCredentialRecord = typeof adminCredentials.$inferSelect;
export type UsageDayRecord = typeof usageDaily.$inferSelect;
export type PayoutRateRecord = typeof providerPayoutRates.$inferSelect;

export type TenantChanges = Partial<
  Pick<
    TenantRecord,
    'name' | 'homeRegion' | 'allowedRegions' | 'allowMaxTokensClamp' | 'allowKeyManagement'
  >
>;

export type ApiKeyChanges = Partial<
  Pick<ApiKeyRecord, 'name' | 'models' | 'requestsPerMinuteMax' | 'tokensPerMinuteMax'>
>;

export type BackendChanges = Partial<
  Pick<
    BackendRecord,
    'slots' | 'accelerators' | 'accelerator' | 'models' | 'region' | 'state' | 'metricsUrl'
  >
>;

export type PageRequest = { limit: number; after?: string | undefined };

export type Catalog = {
  insertTenant(tenant: TenantRecord): Promise<void>;
  getTenant(id: string): Promise<TenantRecord | undefined>;
  /** Tenants ordered by id, after the cursor id. */
  listTenants(page: PageRequest): Promise<TenantRecord[]>;
  updateTenant(id: string, changes: TenantChanges): Promise<void>;

  insertApiKey(key: ApiKeyRecord): Promise<void>;
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]>;
  revokeApiKey(id: string, revokedAtMs: number): Promise<void>;
  /** Changes an active key's limits; false when it is not active (revoked, or unknown). */
  updateApiKey(id: string, changes: ApiKeyChanges): Promise<boolean>;

  insertProvider(provider: ProviderRecord): Promise<void>;
  getProvider(id: string): Promise<ProviderRecord | undefined>;
  findProviderByTokenHash(tokenHash: string): Promise<ProviderRecord | undefined>;
  listProviders(): Promise<ProviderRecord[]>;
  /** Replaces the provider's token hash: the old token stops working. False for an unknown id. */
  replaceProviderToken(id: string, tokenHash: string): Promise<boolean>;
  /** Appends the provider's next payout rate version; returns the stored row. */
  publishPayoutRate(rate: Omit<PayoutRateRecord, 'version'>): Promise<PayoutRateRecord>;
  /** Every payout rate version (of one provider, or all), oldest version first. */
  listPayoutRates(providerId?: string): Promise<PayoutRateRecord[]>;

  /**
   * Inserts the backend unless its provider already has `backendsMax` that are not removed;
   * false when it has. Atomic per provider: two registrations at once cannot both pass the cap.
   */
  insertBackendBelowCap(backend: BackendRecord, backendsMax: number): Promise<boolean>;
  getBackend(id: string): Promise<BackendRecord | undefined>;
  /** Every backend not removed, for the router at start. */
  listLiveBackends(): Promise<BackendRecord[]>;
  listBackendsOfProvider(providerId: string): Promise<BackendRecord[]>;
  updateBackend(id: string, changes: BackendChanges, updatedAtMs: number): Promise<void>;

  /** Creates the model row the first time a backend or price names it. */
  ensureModel(id: string, createdAtMs: number): Promise<void>;
  listModels(): Promise<ModelRecord[]>;

  /** Inserts the next version of a model's price in a region; returns the stored row. */
  publishPrice(price: Omit<PriceRecord, 'version'>): Promise<PriceRecord>;
  /** Every published price version, oldest first. */
  listPrices(): Promise<PriceRecord[]>;
  /** Stores a storage or transport price; it replaces the older one of its meter and regions. */
  publishMeterPrice(price: MeterPriceRecord): Promise<void>;
  /** Every meter price ever set, oldest first. */
  listMeterPrices(): Promise<MeterPriceRecord[]>;

  listAdminCredentials(): Promise<AdminCredentialRecord[]>;
  /**
   * Stores the first admin credential, only if there is none yet: of two gateways starting
   * together on one store, exactly one inserts (true); the other finds the winner's (false).
   */
  insertFirstAdminCredential(credential: AdminCredentialRecord): Promise<boolean>;
  /** The new credential becomes the only one: every older admin token stops working. */
  replaceAdminCredentials(credential: AdminCredentialRecord): Promise<void>;

  /** A tenant's usage totals of one UTC day (days since the epoch): one row, kept by a trigger. */
  usageOfDay(tenantId: string, day: number): Promise<UsageDayRecord | undefined>;

  /** Answers when the store is reachable, for /healthz. */
  ping(): Promise<void>;
};
