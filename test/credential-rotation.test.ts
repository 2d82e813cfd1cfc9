/**
 * Rotation of the admin token and of a provider's token, on two `tokenbank serve` replicas sharing
 * PostgreSQL and Redis, as deployed: the new secret is shown once, the old one is refused at once
 * on the replica that rotated and, over the catalog change bus, on the other one long before its
 * credential cache (a minute here) would have let it go. The audit records each rotation without
 * the secret. A token set by TOKENBANK_ADMIN_TOKEN is not rotated through the API. And two
 * gateways starting together on one empty PostgreSQL store generate exactly one admin token.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../src/config.ts';
import { ensureAdminCredential } from '../src/gateway/admin/admin-credential.ts';
import { systemClock } from '../src/platform/clock.ts';
import { silentLogger } from '../src/platform/logger.ts';
import { openGatewayStore } from '../src/runtime/node/gateway-store.ts';
import { sha256Hex } from '../src/runtime/node/node-ports.ts';
import type { ErrorBody } from './support/api-assertions.ts';
import { expectOk, type HttpCaller, httpCaller, stringField } from './support/demo-pool.ts';
import { startInProcessGateway } from './support/in-process-gateway.ts';
import { pollUntil } from './support/poll-until.ts';
import { openPostgresReplicaStore } from './support/postgres-replica-store.ts';
import { createTestDatabase } from './support/postgres-service.ts';
import { type RedisServerProcess, startRedisServer } from './support/redis-server-process.ts';
import type { ReplicaStore } from './support/replica-store.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';

/** Far longer than the bus needs: a token refused within it was refused by the announcement. */
const busDelayMsMax = 3_000;

let redis: RedisServerProcess;
let store: ReplicaStore;
let replicas: GatewayProcess[] = [];
let calls: HttpCaller[] = [];
let adminToken: string;

beforeAll(async () => {
  [redis, store] = await Promise.all([startRedisServer(), openPostgresReplicaStore()]);
  const environment = {
    TOKENBANK_ADMIN_TOKEN: '',
    TOKENBANK_REDIS_URL: redis.url,
    TOKENBANK_REDIS_PREFIX: 'rotation-test:',
    TOKENBANK_LIMITS: JSON.stringify({ credentialCacheTtlMs: 60_000 }),
  };
  const tokenFile = join(mkdtempSync(join(tmpdir(), 'tokenbank-rotation-')), 'admin-token');
  const first = await startGatewayProcess({
    databasePath: store.database,
    environment,
    args: ['--admin-token-file', tokenFile],
  });
  const second = await startGatewayProcess({ databasePath: store.database, environment });
  replicas = [first, second];
  calls = replicas.map((replica) => httpCaller(replica.url));
  adminToken = readFileSync(tokenFile, 'utf8').trim();
});

afterAll(async () => {
  await Promise.all(replicas.map((replica) => replica.stop()));
  await store?.close();
  await redis?.stop();
});

function call(index: number): HttpCaller {
  const caller = calls[index];
  if (caller === undefined) {
    throw new Error(`no replica ${index}`);
  }
  return caller;
}

async function statusOf(index: number, path: string, token: string): Promise<number> {
  return (await call(index)('GET', path, token)).status;
}

describe('admin token rotation', () => {
  it('refuses the old admin token at once on both replicas and accepts the new one', async () => {
    expect(await statusOf(0, '/admin/v1/tenants', adminToken)).toBe(200);
    // Seen once on the second replica too, so it holds the old token's hash.
    expect(await statusOf(1, '/admin/v1/tenants', adminToken)).toBe(200);

    const rotated = await expectOk(call(0), 'POST', '/admin/v1/tokens/rotate', adminToken);
    const newToken = stringField(rotated, 'token');
    expect(newToken).toMatch(/^tba-/);
    expect(newToken).not.toBe(adminToken);

    expect(await statusOf(0, '/admin/v1/tenants', adminToken)).toBe(401);
    await pollUntil(
      async () => (await statusOf(1, '/admin/v1/tenants', adminToken)) === 401,
      'the second replica refusing the old admin token',
      busDelayMsMax,
    );
    expect(await statusOf(0, '/admin/v1/tenants', newToken)).toBe(200);
    expect(await statusOf(1, '/admin/v1/tenants', newToken)).toBe(200);

    const audit = await expectOk(call(1), 'GET', '/admin/v1/audit', newToken);
    expect(JSON.stringify(audit)).toContain('admin_token.rotate');
    expect(JSON.stringify(audit)).not.toContain(newToken);
    adminToken = newToken;
  });
});

describe('provider token rotation', () => {
  it('refuses the old provider token at once on both replicas and accepts the new one', async () => {
    const provider = await expectOk(call(0), 'POST', '/admin/v1/providers', adminToken, {
      name: 'rotating provider',
      payout_bps: 7000,
    });
    const providerId = stringField(provider, 'id');
    const oldToken = stringField(provider, 'token');
    // Cached on both replicas before the rotation.
    expect(await statusOf(0, '/provider/v1/backends', oldToken)).toBe(200);
    expect(await statusOf(1, '/provider/v1/backends', oldToken)).toBe(200);

    const rotated = await expectOk(
      call(0),
      'POST',
      `/admin/v1/providers/${providerId}/token`,
      adminToken,
    );
    const newToken = stringField(rotated, 'token');
    expect(rotated).toMatchObject({ id: providerId, object: 'provider' });

    expect(await statusOf(0, '/provider/v1/backends', oldToken)).toBe(401);
    await pollUntil(
      async () => (await statusOf(1, '/provider/v1/backends', oldToken)) === 401,
      'the second replica refusing the old provider token',
      busDelayMsMax,
    );
    expect(await statusOf(1, '/provider/v1/backends', newToken)).toBe(200);

    const audit = JSON.stringify(await expectOk(call(0), 'GET', '/admin/v1/audit', adminToken));
    expect(audit).toContain('provider.token_rotate');
    expect(audit).not.toContain(newToken);
    expect(audit).not.toContain(oldToken);
  });

  it('answers 404 for an unknown provider', async () => {
    const answer = await call(1)('POST', '/admin/v1/providers/prv_nope/token', adminToken);
    expect(answer.status).toBe(404);
  });
});

describe('a configured admin token', () => {
  it('is not rotated through the API: the answer says to change the variable', async () => {
    const gateway = await startInProcessGateway();
    try {
      const answer = await gateway.admin('POST', '/admin/v1/tokens/rotate');
      expect(answer.status).toBe(409);
      const body = (await answer.json()) as ErrorBody;
      expect(body.error.message).toContain('TOKENBANK_ADMIN_TOKEN');
    } finally {
      await gateway.close();
    }
  });
});

describe('the first admin token on PostgreSQL', () => {
  it('is generated once when two gateways start together on an empty store', async () => {
    const database = await createTestDatabase(inject('postgresAdminUrl'));
    const parsed = parseConfig({}, { database: database.url });
    if (!parsed.ok) {
      throw new Error(parsed.message);
    }
    const stores = [
      await openGatewayStore(parsed.config, silentLogger),
      await openGatewayStore(parsed.config, silentLogger),
    ];
    try {
      const results = await Promise.all(
        stores.map((opened) =>
          ensureAdminCredential({
            catalog: opened.catalog,
            hashText: sha256Hex,
            clock: systemClock,
            configuredToken: undefined,
            mayGenerate: true,
          }),
        ),
      );
      const generated = results.flatMap((result) =>
        result.generatedToken === undefined ? [] : [result.generatedToken],
      );
      expect(generated).toHaveLength(1);
      const winnerHash = await sha256Hex(generated[0] ?? '');
      expect(results.map((result) => result.tokenHashes)).toEqual([[winnerHash], [winnerHash]]);
      expect(await stores[0]?.catalog.listAdminCredentials()).toHaveLength(1);
    } finally {
      await Promise.all(stores.map((opened) => opened.close()));
      await database.drop();
    }
  });
});
