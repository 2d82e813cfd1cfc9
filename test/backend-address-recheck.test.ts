/**
 * A backend registered while the operator allowed private addresses is checked again when the
 * gateway starts with them refused: one at an IP literal (here loopback) is kept out of the pool,
 * logged, shown `refused`, and gets no traffic, rather than being used as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServedSimulator, serveSimulator } from '../src/runtime/node/serve-simulator.ts';
import type { ListBody } from './support/api-assertions.ts';
import {
  createTenantWithKey,
  expectOk,
  httpCaller,
  priceModels,
  registerProvider,
  topUp,
} from './support/demo-pool.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';

const adminToken = `tba-${'k'.repeat(32)}`;
const model = 'recheck-chat';
let simulator: ServedSimulator;
const started: GatewayProcess[] = [];

beforeAll(async () => {
  simulator = await serveSimulator({ simulator: { models: [model] } });
});

afterAll(async () => {
  await Promise.all(started.map((gateway) => gateway.stop()));
  await simulator?.close();
});

async function startWith(allowPrivate: '0' | '1', databasePath?: string) {
  const gateway = await startGatewayProcess({
    adminToken,
    ...(databasePath === undefined ? {} : { databasePath }),
    environment: { TOKENBANK_ALLOW_PRIVATE_BACKENDS: allowPrivate, TOKENBANK_LOG_LEVEL: 'warn' },
  });
  started.push(gateway);
  return gateway;
}

async function requestsReceived(): Promise<number> {
  const stats = (await (await fetch(`${simulator.origin}/sim/stats`)).json()) as {
    requests_received: number;
  };
  return stats.requests_received;
}

describe('backends re-checked at start', () => {
  it('refuses a loopback backend once private backends are turned off', async () => {
    const permissive = await startWith('1');
    const call = httpCaller(permissive.url);
    const { backendIds } = await registerProvider(call, adminToken, [
      { url: simulator.url, region: 'east', models: [model] },
    ]);
    await priceModels(call, adminToken, [model]);
    const tenant = await createTenantWithKey(call, adminToken, { name: 'T' });
    await topUp(call, adminToken, tenant.tenantId, '5');
    await permissive.stop();

    const strict = await startWith('0', permissive.databasePath);
    const listed = await expectOk(httpCaller(strict.url), 'GET', '/admin/v1/backends', adminToken);
    const [backend] = (listed as unknown as ListBody<{ id: string; state: string }>).data;
    expect(backend).toMatchObject({ id: backendIds[0], state: 'refused' });
    expect(strict.stderr()).toContain('backend_refused');

    const before = await requestsReceived();
    const answer = await fetch(`${strict.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }),
    });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(await requestsReceived()).toBe(before);
  });
});
