/**
 * A single-node gateway killed with streams in flight recovers its own orphaned holds when it
 * starts again, before it serves: on SQLite no other gateway can own a hold, so the new process
 * does not wait for the dead one's heartbeat to go stale. And while a gateway lives, its long
 * streams are never swept from under it: only a request's own deadline ends it. Should one of its
 * own settlements fail, the hold is swept once it is past that deadline and a grace.
 */

import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackgroundJobs } from '../src/gateway/replicas/background-jobs.ts';
import {
  createTenantWithKey,
  httpCaller,
  priceModels,
  registerProvider,
  topUp,
} from './support/demo-pool.ts';
import {
  inProcessCaller,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';
import { type LyingBackend, serveLyingBackend } from './support/lying-backend.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';
import { tenantReader } from './support/tenant-money.ts';

const adminToken = 'tba-restart-recovery-admin-0123456789';
const model = 'slow-model';
const environment = {
  TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1',
  TOKENBANK_AUTO_APPROVE_BACKENDS: '1',
  // The sweeper runs often and would take a silent owner's holds at once: only silence counts.
  TOKENBANK_LIMITS: JSON.stringify({
    sweepIntervalMs: 100,
    ownerSilentMs: 60_000,
    checkpointEventCount: 2,
  }),
};

describe('a gateway restarted after a crash', () => {
  let slow: LyingBackend;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    slow = await serveLyingBackend();
  });

  afterAll(async () => {
    await gateway?.stop();
    await slow?.close();
  });

  it('keeps a live stream past many sweeps, then settles its orphaned holds as it starts again', async () => {
    gateway = await startGatewayProcess({ adminToken, environment });
    const call = () => httpCaller(gateway.url);
    await registerProvider(call(), adminToken, [
      { url: slow.url, region: 'cn-east', models: [model] },
    ]);
    await priceModels(call(), adminToken, [model]);
    const { tenantId, apiKey } = await createTenantWithKey(call(), adminToken, { name: 'crashed' });
    await topUp(call(), adminToken, tenantId, '10.00');
    const reader = tenantReader(call, adminToken, tenantId);

    const streams = await Promise.all(
      Array.from({ length: 3 }, () =>
        fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model,
            messages: [{ role: 'user', content: 'lie:slow-stream' }],
            max_tokens: 1000,
            stream: true,
          }),
        }),
      ),
    );
    const readers = streams.map((response) => response.body?.getReader());
    // Each stream delivers tokens for a while, across many sweeps of this live gateway.
    for (let read = 0; read < 8; read += 1) {
      await Promise.all(readers.map((stream) => stream?.read()));
    }
    const held = await reader.view();
    expect(held.holds).not.toBe('0.00');

    const { databasePath } = gateway;
    await gateway.kill();
    gateway = await startGatewayProcess({ adminToken, databasePath, environment });
    // Recovered before the new process listened, though the dead one's heartbeat is fresh.
    const after = await reader.view();
    expect(after.holds).toBe('0.00');
    const usage = [...(await reader.usageById()).values()];
    const crashed = usage.filter((record) => record.outcome === 'gateway_crash');
    expect(crashed).toHaveLength(3);
    for (const record of crashed) {
      expect(record.usage_source).toBe('estimate');
      expect(record.output_tokens).toBeGreaterThan(0);
    }
  });
});

describe('a live gateway whose own settlement failed', () => {
  it('sweeps its own hold once it is past the request deadline and a grace, and no sooner', async () => {
    const gateway = await startInProcessGateway({
      environment: { TOKENBANK_REQUEST_TIMEOUT_S: '60' },
    });
    try {
      const call = inProcessCaller(gateway);
      await priceModels(call, testAdminToken, [model]);
      const { tenantId, keyId } = await createTenantWithKey(call, testAdminToken, { name: 'owed' });
      await topUp(call, testAdminToken, tenantId, '10.00');
      const { deps, clock } = gateway;
      const price = await deps.catalogCache.pinnedPrice(model, 'cn-east', clock.nowMs());
      if (price === undefined) {
        throw new Error('the model has no price');
      }
      // A reservation this gateway made and never settled: its settlement failed.
      const reserved = await deps.ledger.reserve({
        requestId: 'req_settlement_failed',
        tenantId,
        keyId,
        model,
        region: 'cn-east',
        price,
        promptTokensEstimate: 10,
        outputTokensMax: 100,
        clampAllowed: false,
        atMs: clock.nowMs(),
        instanceId: deps.instanceId,
      });
      expect(reserved.ok).toBe(true);
      const jobs = createBackgroundJobs(deps);
      const reader = tenantReader(() => call, testAdminToken, tenantId);

      clock.advanceMs(60_000 + 59_000);
      await jobs.heartbeat();
      expect(await jobs.sweep()).toBe(0);
      expect((await reader.view()).holds).not.toBe('0.00');

      clock.advanceMs(2_000);
      await jobs.heartbeat();
      expect(await jobs.sweep()).toBe(1);
      expect((await reader.view()).holds).toBe('0.00');
      const record = (await reader.usageById()).get('req_settlement_failed');
      expect(record?.outcome).toBe('gateway_crash');
    } finally {
      await gateway.close();
    }
  });
});
