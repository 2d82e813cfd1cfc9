/**
 * The three credentials of API.md, never mixed up: client API keys (`tbk-`) on /v1, provider
 * tokens (`tbp-`) on /provider/v1 and the admin token on /admin/v1. Only SHA-256 hashes are
 * stored; the hash found by lookup is compared again in constant time before it is trusted.
 */
import type { MiddlewareHandler } from 'hono';
import type { HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { constantTimeEqual } from '../../platform/identifiers.ts';

type CredentialKind = 'client' | 'provider' | 'admin';

const prefixOf: Record<CredentialKind, string | undefined> = {
  client: 'tbk-',
  provider: 'tbp-',
  admin: undefined,
};

const nameOf: Record<CredentialKind, string> = {
  client: 'a client API key (tbk-...)',
  provider: 'a provider token (tbp-...)',
  admin: 'the admin token',
};

/** Longest credential worth hashing; anything longer is not one of ours. */
const credentialLengthMax = 512;

function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) {
    return undefined;
  }
  const match = /^Bearer +(\S+) *$/i.exec(header);
  const token = match?.[1];
  return token !== undefined && token.length <= credentialLengthMax ? token : undefined;
}

function unauthorized(kind: CredentialKind, detail: string): GatewayError {
  return new GatewayError('invalid_api_key', `${detail}; this API takes ${nameOf[kind]}.`);
}

/** Refuses a credential of another kind by its prefix, with a message that says so. */
function checkKind(kind: CredentialKind, token: string): void {
  for (const [otherKind, prefix] of Object.entries(prefixOf)) {
    if (prefix !== undefined && token.startsWith(prefix) && otherKind !== kind) {
      throw unauthorized(kind, `a ${otherKind} credential was given`);
    }
  }
  const expected = prefixOf[kind];
  if (expected !== undefined && !token.startsWith(expected)) {
    throw unauthorized(kind, 'the credential is not recognised');
  }
}

function tokenOf(kind: CredentialKind, header: string | undefined): string {
  const token = bearerToken(header);
  if (token === undefined) {
    throw unauthorized(kind, 'missing or malformed Authorization: Bearer header');
  }
  checkKind(kind, token);
  return token;
}

export const requireClient: MiddlewareHandler<HonoEnv> = async function requireClient(c, next) {
  const deps = c.get('deps');
  const token = tokenOf('client', c.get('deps').request.header(c, 'authorization'));
  const hash = await deps.hashText(token);
  let identity = deps.clients.get(hash);
  if (!identity) {
    const key = await deps.catalog.findApiKeyByHash(hash);
    const tenant = key && (await deps.catalog.getTenant(key.tenantId));
    if (!key || !tenant || !constantTimeEqual(key.keyHash, hash)) {
      throw unauthorized('client', 'unknown API key');
    }
    identity = { key, tenant };
    deps.clients.set(hash, identity);
  }
  if (identity.key.status !== 'active') {
    throw unauthorized('client', 'this API key has been revoked');
  }
  c.set('client', identity);
  c.get('requestLog').actor = `key:${identity.key.id}`;
  c.get('requestLog').tenantId = identity.tenant.id;
  await next();
};

export const requireProvider: MiddlewareHandler<HonoEnv> = async function requireProvider(c, next) {
  const deps = c.get('deps');
  const token = tokenOf('provider', c.get('deps').request.header(c, 'authorization'));
  const hash = await deps.hashText(token);
  let provider = deps.providers.get(hash);
  if (!provider) {
    provider = await deps.catalog.findProviderByTokenHash(hash);
    if (!provider || !constantTimeEqual(provider.tokenHash, hash)) {
      throw unauthorized('provider', 'unknown provider token');
    }
    deps.providers.set(hash, provider);
  }
  c.set('provider', provider);
  c.get('requestLog').actor = `provider:${provider.id}`;
  await next();
};

export const requireAdmin: MiddlewareHandler<HonoEnv> = async function requireAdmin(c, next) {
  const deps = c.get('deps');
  const token = tokenOf('admin', c.get('deps').request.header(c, 'authorization'));
  const hash = await deps.hashText(token);
  // Every stored hash is compared, so the time taken does not say which one was close.
  let matched = false;
  for (const adminHash of await deps.adminTokens.current()) {
    matched = constantTimeEqual(adminHash, hash) || matched;
  }
  if (!matched) {
    throw unauthorized('admin', 'unknown admin token');
  }
  // A prefix of the token's hash tells admin tokens apart in logs and the audit log.
  c.get('requestLog').actor = `admin:${hash.slice(0, 12)}`;
  await next();
};
