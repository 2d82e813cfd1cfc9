/**
 * A tenant's own keys through /v1/account/keys against the real app and store: listed to any of
 * its keys without a secret; issued and revoked only when the operator allows it for the tenant
 * (`allow_key_management`), never wider than the issuing key, never another tenant's; each write
 * audited with the key as actor and no secret; a refusal changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  answeredRequests,
  expectError,
  type ListBody,
  readJson,
} from './support/api-assertions.ts';
import { type InProcessGateway, startInProcessGateway } from './support/in-process-gateway.ts';

type Key = { id: string; tenant_id: string; name: string | null; status: string; key?: string };
type KeyList = ListBody<Key> & { allow_key_management: boolean };
type AuditList = ListBody<{ action: string; actor: string; entity_id: string; after: unknown }>;

let gateway: InProcessGateway;
const { admin, withToken } = answeredRequests(() => gateway);

async function tenantWithKey(name: string, key: Record<string, unknown> = {}) {
  const tenant = await readJson<{ id: string }>(
    await admin('POST', '/admin/v1/tenants', { name }),
    201,
  );
  const issued = await readJson<Key & { key: string }>(
    await admin('POST', `/admin/v1/tenants/${tenant.id}/keys`, { name: 'first', ...key }),
    201,
  );
  return { tenantId: tenant.id, keyId: issued.id, apiKey: issued.key };
}

async function keysOf(apiKey: string): Promise<KeyList> {
  return readJson<KeyList>(await withToken(apiKey, 'GET', '/v1/account/keys'), 200);
}

async function allowManagement(tenantId: string, allowed: boolean): Promise<void> {
  const tenant = await readJson<{ allow_key_management: boolean }>(
    await admin('PATCH', `/admin/v1/tenants/${tenantId}`, { allow_key_management: allowed }),
    200,
  );
  expect(tenant.allow_key_management).toBe(allowed);
}

beforeAll(async () => {
  gateway = await startInProcessGateway();
});

afterAll(async () => {
  await gateway?.close();
});

describe('a tenant own keys', () => {
  it('are listed to any of its keys, read only unless the operator allows management', async () => {
    const acme = await tenantWithKey('acme');
    const listed = await keysOf(acme.apiKey);
    expect(listed.allow_key_management).toBe(false);
    expect(listed.data.map((key) => key.id)).toEqual([acme.keyId]);
    expect(listed.data[0]?.key).toBeUndefined();

    await expectError(
      await withToken(acme.apiKey, 'POST', '/v1/account/keys', { name: 'mine' }),
      403,
      'permission_denied',
    );
    await expectError(
      await withToken(acme.apiKey, 'DELETE', `/v1/account/keys/${acme.keyId}`),
      403,
      'permission_denied',
    );
    expect((await keysOf(acme.apiKey)).data).toHaveLength(1);
    expect((await keysOf(acme.apiKey)).data[0]?.status).toBe('active');
  });

  it('are issued and revoked by its keys once allowed, audited without the secret', async () => {
    const acme = await tenantWithKey('acme-managed');
    await allowManagement(acme.tenantId, true);
    const issued = await readJson<Key & { key: string }>(
      await withToken(acme.apiKey, 'POST', '/v1/account/keys', { name: 'ci' }),
      201,
    );
    expect(issued.key).toMatch(/^tbk-/);
    expect(issued.tenant_id).toBe(acme.tenantId);
    await readJson(await withToken(issued.key, 'GET', '/v1/account'), 200);
    expect((await keysOf(acme.apiKey)).data.map((key) => key.name).sort()).toEqual(['ci', 'first']);

    const revoked = await readJson<Key>(
      await withToken(acme.apiKey, 'DELETE', `/v1/account/keys/${issued.id}`),
      200,
    );
    expect(revoked.status).toBe('revoked');
    await expectError(await withToken(issued.key, 'GET', '/v1/account'), 401, 'invalid_api_key');

    const audit = await readJson<AuditList>(
      await admin('GET', `/admin/v1/audit?entity_id=${issued.id}`),
      200,
    );
    expect(audit.data.map((event) => event.action).sort()).toEqual(['key.create', 'key.revoke']);
    expect(audit.data.every((event) => event.actor === `key:${acme.keyId}`)).toBe(true);
    expect(JSON.stringify(audit)).not.toContain(issued.key);
  });

  it('never reach another tenant key', async () => {
    const acme = await tenantWithKey('acme-neighbour');
    const other = await tenantWithKey('other');
    await allowManagement(acme.tenantId, true);
    await expectError(
      await withToken(acme.apiKey, 'DELETE', `/v1/account/keys/${other.keyId}`),
      404,
      'not_found',
    );
    expect((await keysOf(other.apiKey)).data[0]?.status).toBe('active');
  });

  it('are never wider than the key that issues them', async () => {
    const scoped = await tenantWithKey('scoped', { models: ['model-a'], rpm: 10 });
    await allowManagement(scoped.tenantId, true);
    const issue = (body: unknown) => withToken(scoped.apiKey, 'POST', '/v1/account/keys', body);
    await expectError(await issue({ rpm: 5 }), 403, 'permission_denied', 'models');
    await expectError(
      await issue({ models: ['model-a', 'model-b'], rpm: 5 }),
      403,
      'permission_denied',
      'models',
    );
    await expectError(await issue({ models: ['model-a'] }), 403, 'permission_denied', 'rpm');
    await expectError(
      await issue({ models: ['model-a'], rpm: 11 }),
      403,
      'permission_denied',
      'rpm',
    );
    await expectError(
      await issue({ models: ['model-a'], rpm: 5, extra: 1 }),
      400,
      'invalid_request',
      'extra',
    );
    expect((await keysOf(scoped.apiKey)).data).toHaveLength(1);
    const narrower = await readJson<Key & { key: string }>(
      await issue({ models: ['model-a'], rpm: 5, tpm: 1000 }),
      201,
    );
    expect(narrower.status).toBe('active');
  });

  it('stop being managed by its keys when the operator withdraws it', async () => {
    const acme = await tenantWithKey('acme-withdrawn');
    await allowManagement(acme.tenantId, true);
    await allowManagement(acme.tenantId, false);
    await expectError(
      await withToken(acme.apiKey, 'POST', '/v1/account/keys', {}),
      403,
      'permission_denied',
    );
  });
});
