/**
 * The catalog rows a tenant's Durable Object keeps beside its ledger: the catalog itself lives in
 * D1, but the ledger's operations read a few of its facts synchronously inside a transaction (the
 * price terms of a reservation, the provider and region of a backend, a provider's payout rate
 * versions) and its coupons name the tenant by foreign key. The Worker sends the rows an operation
 * will need before the operation (tenant-ledgers.ts); a mirror holds only what the ledger reads,
 * never a credential, and a row already mirrored is kept (versions never change; a provider's
 * base rate is updated).
 */
import type { DurableSql } from '../durable-sql.ts';
import type { MirroredLease } from './lease-mirror.ts';

export type MirroredTenant = { id: string; allowMaxTokensClamp: boolean; createdAtMs: number };
export type MirroredProvider = { id: string; payoutBps: number; createdAtMs: number };
export type MirroredPayoutRate = {
  providerId: string;
  version: number;
  payoutBps: number;
  effectiveAtMs: number;
};
export type MirroredBackend = { id: string; providerId: string; region: string };
export type MirroredPrice = {
  id: string;
  model: string;
  region: string;
  version: number;
  inputPerMillion: bigint;
  cachedInputPerMillion: bigint;
  outputPerMillion: bigint;
  currency: string;
  effectiveAtMs: number;
};

export type CatalogMirror = {
  tenants?: readonly MirroredTenant[];
  providers?: readonly MirroredProvider[];
  payoutRates?: readonly MirroredPayoutRate[];
  backends?: readonly MirroredBackend[];
  prices?: readonly MirroredPrice[];
  /** Leases about to be charged or ended, as the coordinator object holds them (lease-mirror.ts). */
  leases?: readonly MirroredLease[];
};

/**
 * Writes the rows of `mirror` the object does not hold yet, but its leases (writeLeaseMirror);
 * call inside its transactionSync.
 */
export function writeCatalogMirror(sql: DurableSql, mirror: CatalogMirror): void {
  for (const tenant of mirror.tenants ?? []) {
    sql.run(
      `INSERT INTO tenants (id, name, home_region, allowed_regions, allow_max_tokens_clamp,
         created_at_ms) VALUES (?1, ?1, NULL, NULL, ?2, ?3) ON CONFLICT (id) DO NOTHING`,
      tenant.id,
      tenant.allowMaxTokensClamp,
      tenant.createdAtMs,
    );
  }
  for (const provider of mirror.providers ?? []) {
    // No token (the object never authenticates a provider): a unique stand-in for the column.
    sql.run(
      `INSERT INTO providers (id, name, payout_bps, token_hash, created_at_ms)
       VALUES (?1, ?1, ?2, 'mirror:' || ?1, ?3) ON CONFLICT (id) DO UPDATE SET payout_bps = excluded.payout_bps`,
      provider.id,
      provider.payoutBps,
      provider.createdAtMs,
    );
  }
  for (const rate of mirror.payoutRates ?? []) {
    sql.run(
      `INSERT INTO provider_payout_rates (provider_id, version, payout_bps, effective_at_ms,
         created_at_ms) VALUES (?, ?, ?, ?, 0) ON CONFLICT DO NOTHING`,
      rate.providerId,
      rate.version,
      rate.payoutBps,
      rate.effectiveAtMs,
    );
  }
  for (const backend of mirror.backends ?? []) {
    // Where it is and whose it is; no URL, key or models: the object never calls a backend.
    sql.run(
      `INSERT INTO backends (id, provider_id, url, region, models, slots, api_key, metrics_url,
         state, created_at_ms, updated_at_ms)
       VALUES (?, ?, '', ?, '[]', 0, NULL, NULL, 'active', 0, 0) ON CONFLICT (id) DO NOTHING`,
      backend.id,
      backend.providerId,
      backend.region,
    );
  }
  for (const price of mirror.prices ?? []) {
    sql.run(
      `INSERT INTO prices (id, model, region, version, input_per_million, cached_input_per_million,
         output_per_million, currency, effective_at_ms, created_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT DO NOTHING`,
      price.id,
      price.model,
      price.region,
      price.version,
      price.inputPerMillion,
      price.cachedInputPerMillion,
      price.outputPerMillion,
      price.currency,
      price.effectiveAtMs,
    );
  }
}
