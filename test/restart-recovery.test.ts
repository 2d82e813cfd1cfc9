/**
 * A single-node gateway killed with streams in flight recovers its own orphaned holds when it
 * starts again, before it serves: on SQLite no other gateway can own a hold, so the new process
 * does not wait for the dead one's heartbeat to go stale. And while a gateway lives, its long
 * streams are never swept from under it: only a request's own deadline ends it.
 */

import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenantWithKey,
  httpCaller,
  priceModels,
  registerProvider,
  topUp,
} from './support/demo-pool.ts';
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
