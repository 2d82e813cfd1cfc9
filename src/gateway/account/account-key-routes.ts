/**
 * A tenant's own API keys, with one of them: GET /v1/account/keys lists them (never a secret);
 * when the operator allows it for the tenant (`allow_key_management`), POST issues a key and
 * DELETE revokes one. A key never issues a key wider than itself: a key limited to some models
 * or to a rate issues keys within those limits, so a scoped key cannot escape its scope.
 */
import type { Hono } from 'hono';
import type { Limits } from '../../config.ts';
import type { ApiKeyRecord, TenantRecord } from '../../db/catalog.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { createKeySchema } from '../admin/admin-requests.ts';
import { issueApiKey, type KeyTerms, revokeApiKey } from '../admin/api-key-writes.ts';
import { keyView, listView } from '../admin/views.ts';
import { readJsonBody } from '../middleware/json-body.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';

function checkManagementAllowed(tenant: TenantRecord): void {
  if (!tenant.allowKeyManagement) {
    throw new GatewayError(
      'permission_denied',
      "This tenant's keys may not issue or revoke keys; the operator issues them " +
        '(or allows it: allow_key_management on the tenant).',
    );
  }
}

function outside(param: string, what: string): GatewayError {
  return new GatewayError(
    'permission_denied',
    `A key may not issue a key wider than itself: ${what}.`,
    { param },
  );
}

/** Within a limit: the issuer's limit applies unless the new key names a tighter one. */
function checkRate(param: string, issuerMax: number | null, wanted: number | null | undefined) {
  if (issuerMax !== null && (wanted === null || wanted === undefined || wanted > issuerMax)) {
    throw outside(param, `${param} must be at most ${issuerMax}, as the issuing key's`);
  }
}

export function checkWithinIssuer(issuer: ApiKeyRecord, terms: KeyTerms): void {
  const issuerModels = issuer.models;
  if (issuerModels !== null) {
    const models = terms.models;
    if (models === null || models === undefined || models.some((m) => !issuerModels.includes(m))) {
      throw outside(
        'models',
        `models must be among the issuing key's (${issuerModels.join(', ')})`,
      );
    }
  }
  checkRate('rpm', issuer.requestsPerMinuteMax, terms.rpm);
  checkRate('tpm', issuer.tokensPerMinuteMax, terms.tpm);
}

export function registerAccountKeyRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  const keySchema = createKeySchema(deps.config.limits);

  app.get('/v1/account/keys', async (c) => {
    const keys = await deps.catalog.listApiKeys(c.get('client').tenant.id);
    return c.json(
      listView(keys.map(keyView), {
        allow_key_management: c.get('client').tenant.allowKeyManagement,
      }),
    );
  });

  app.post('/v1/account/keys', async (c) => {
    const { key: issuer, tenant } = c.get('client');
    checkManagementAllowed(tenant);
    const { value } = await readJsonBody(c, keySchema);
    checkWithinIssuer(issuer, value);
    const { key, secret } = await issueApiKey(deps, tenant.id, value);
    return c.json({ ...keyView(key), key: secret }, 201);
  });

  app.delete('/v1/account/keys/:id', async (c) => {
    const { tenant } = c.get('client');
    checkManagementAllowed(tenant);
    const id = c.req.param('id');
    const key = await deps.catalog.getApiKey(id);
    if (key === undefined || key.tenantId !== tenant.id) {
      throw new GatewayError('not_found', `No key of this tenant with id '${id.slice(0, 80)}'.`);
    }
    const revoked = await revokeApiKey(deps, id);
    return c.json(revoked ? keyView(revoked) : null);
  });
}

export function accountKeyRouteDocs(limits: Limits): RouteDoc[] {
  const route = routeDocsFor('apiKey');
  return [
    route('get', '/v1/account/keys', "The tenant's keys (never a secret)"),
    route('post', '/v1/account/keys', 'Issues a key no wider than the issuing one', {
      body: createKeySchema(limits),
      successStatus: 201,
    }),
    route('delete', '/v1/account/keys/:id', "Revokes one of the tenant's keys"),
  ];
}
