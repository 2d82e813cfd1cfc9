/**
 * Issuing and revoking API keys, shared by the operator's admin routes and a tenant's own keys
 * (/v1/account/keys, when the tenant allows it): the secret is made here, only its hash and a
 * short prefix are stored, and a revocation reaches every replica's cached credentials at once.
 */
import type { ApiKeyRecord } from '../../db/catalog.ts';
import type { Deps } from '../../deps.ts';
import { newId, newSecret } from '../../platform/identifiers.ts';
import { announceCatalogChange } from '../replicas/catalog-changes.ts';

/** Characters of a key kept to tell keys apart: the prefix and 6 of its random characters. */
const keyPrefixLength = 10;

export type KeyTerms = {
  name?: string | null | undefined;
  models?: string[] | null | undefined;
  rpm?: number | null | undefined;
  tpm?: number | null | undefined;
};

/** A new active key of the tenant, with its secret (to be shown once, in the answer). */
export async function issueApiKey(
  deps: Deps,
  tenantId: string,
  terms: KeyTerms,
): Promise<{ key: ApiKeyRecord; secret: string }> {
  const secret = newSecret('tbk');
  const key: ApiKeyRecord = {
    id: newId('key'),
    tenantId,
    name: terms.name ?? null,
    keyHash: await deps.hashText(secret),
    keyPrefix: secret.slice(0, keyPrefixLength),
    models: terms.models ?? null,
    requestsPerMinuteMax: terms.rpm ?? null,
    tokensPerMinuteMax: terms.tpm ?? null,
    status: 'active',
    createdAtMs: deps.clock.nowMs(),
    revokedAtMs: null,
  };
  await deps.catalog.insertApiKey(key);
  return { key, secret };
}

/** Revokes the key; it is refused from the next request on, on every replica. */
export async function revokeApiKey(deps: Deps, id: string): Promise<ApiKeyRecord | undefined> {
  await deps.catalog.revokeApiKey(id, deps.clock.nowMs());
  deps.clients.deleteWhere((identity) => identity.key.id === id);
  await announceCatalogChange(deps, { kind: 'key', keyId: id });
  return deps.catalog.getApiKey(id);
}
