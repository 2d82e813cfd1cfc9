/**
 * The admin token. When the operator configures one (TOKENBANK_ADMIN_TOKEN) it is the only one
 * accepted. Otherwise the first start generates a `tba-` token, stores only its hash and hands the
 * token back once so the runtime can print it; later starts accept the stored hash. Replicas
 * starting together on one store agree on one token: the store lets only the first insert. A
 * start that has nowhere safe to show a new token (`mayGenerate: false`) generates none: the
 * admin API then stays closed rather than guarded by a secret nobody received.
 */
import type { Catalog } from '../../db/catalog.ts';
import type { Clock } from '../../platform/clock.ts';
import { type HashText, newId, newSecret } from '../../platform/identifiers.ts';

export type AdminCredentials = {
  tokenHashes: string[];
  /** Set only on the start that generated the token. */
  generatedToken: string | undefined;
};

export async function ensureAdminCredential(options: {
  catalog: Catalog;
  hashText: HashText;
  clock: Clock;
  configuredToken: string | undefined;
  mayGenerate: boolean;
}): Promise<AdminCredentials> {
  const { catalog, hashText, clock, configuredToken } = options;
  if (configuredToken !== undefined) {
    return { tokenHashes: [await hashText(configuredToken)], generatedToken: undefined };
  }
  const stored = await storedHashes(catalog);
  if (stored.length > 0 || !options.mayGenerate) {
    return { tokenHashes: stored, generatedToken: undefined };
  }
  const token = newSecret('tba');
  const tokenHash = await hashText(token);
  const credential = { id: newId('adm'), tokenHash, createdAtMs: clock.nowMs() };
  if (await catalog.insertFirstAdminCredential(credential)) {
    return { tokenHashes: [tokenHash], generatedToken: token };
  }
  // Another replica stored its token first: that one is the deployment's, ours is discarded.
  return { tokenHashes: await storedHashes(catalog), generatedToken: undefined };
}

async function storedHashes(catalog: Catalog): Promise<string[]> {
  return (await catalog.listAdminCredentials()).map((credential) => credential.tokenHash);
}
