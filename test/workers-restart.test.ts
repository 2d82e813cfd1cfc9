/**
 * What a tenant object's alarm ends on Workers. A crash mid-request: workerd is killed while a
 * stream is running (every isolate and the tenant's object with it) and started again on the
 * same storage. Nothing is lost: the object's alarm, set when the hold was made, sweeps it once
 * the request's lifetime has passed (TOKENBANK_REQUEST_TIMEOUT_S plus ownerSilentMs), the request
 * gets its usage record, which reaches the copy in D1 too, nothing stays held, and the ledger
 * checks out. A grant's expiry: the alarm set when it was granted expires it when its time comes,
 * with no request to the object in between.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantMoney, UsageRecord } from '../src/billing/ledger.ts';
import type { LedgerAnswer } from '../src/runtime/workers/ledger/ledger-rpc.ts';
import { expectOk, grantCoupon, httpCaller } from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import { gatewayClient } from './support/openai-client.ts';
import { pollUntil } from './support/poll-until.ts';
import { firstTenant, type SeededTenant, seedPool } from './support/seeded-pool.ts';
import {
  startWorkersRuntime,
  suiteVariables,
  type WorkersRuntime,
} from './support/workers-runtime.ts';

const chatModel = 'sim-slow';
const adminToken = `tba-${'r'.repeat(32)}`;
const everything = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };

// Slow enough that the stream is still running when workerd is killed.
const simulator = fastSimulatorForFile({ models: [chatModel], decodeTokensPerSecond: 5 });
let runtime: WorkersRuntime | undefined;
let tenant: SeededTenant;

function started(): WorkersRuntime {
  if (!runtime) {
    throw new Error('the Worker did not start');
  }
  return runtime;
}

/** One ledger call on the tenant's own object, as the Worker makes it. */
async function tenantLedger(method: string, parameters: unknown[]): Promise<unknown> {
  const answer = (await started().call({
    object: tenant.tenantId,
    target: 'ledger',
    parameters: [method, parameters],
  })) as LedgerAnswer;
  if (!answer.ok) {
    throw new Error(answer.message);
  }
  return answer.value;
}

beforeAll(async () => {
  runtime = await startWorkersRuntime({
    ...suiteVariables(adminToken),
    TOKENBANK_REQUEST_TIMEOUT_S: '4',
    TOKENBANK_LIMITS: JSON.stringify({ ownerSilentMs: 500, sweepIntervalMs: 100 }),
  });
  const seeded = await seedPool(httpCaller(runtime.url), adminToken, {
    backends: [{ url: simulator().url, region: 'east', models: [chatModel] }],
    tenants: [{ tenant: { name: 'crashing' }, topUp: '10' }],
  });
  tenant = firstTenant(seeded);
}, 120_000);

afterAll(async () => {
  await runtime?.close();
});

describe('a restart of workerd mid-request', () => {
  it('loses no usage and leaves no hold once the alarm has swept', async () => {
    const client = gatewayClient({
      baseURL: `${started().url}/v1`,
      apiKey: tenant.apiKey,
      timeoutMs: 30_000,
    });
    const stream = await client.chat.completions.create({
      model: chatModel,
      messages: [{ role: 'user', content: 'Count slowly to one hundred.' }],
      max_tokens: 100,
      stream: true,
    });
    const chunks = stream[Symbol.asyncIterator]();
    await chunks.next();
    const held = (await tenantLedger('tenantMoney', [tenant.tenantId, Date.now()])) as TenantMoney;
    expect(held.holdsMicro).toBeGreaterThan(0n);

    await started().restart();
    // The client's connection died with workerd: what it reads now is the loss.
    await expect(chunks.next()).rejects.toThrow();

    const swept = await pollUntil(
      async () => {
        const money = (await tenantLedger('tenantMoney', [
          tenant.tenantId,
          Date.now(),
        ])) as TenantMoney;
        return money.holdsMicro === 0n ? money : undefined;
      },
      'the alarm to sweep the hold',
      30_000,
      200,
    );
    expect(swept.walletBalanceMicro).toBeLessThanOrEqual(10_000_000n);
    const usage = (await tenantLedger('usage', [tenant.tenantId, everything])) as UsageRecord[];
    expect(usage).toHaveLength(1);
    expect(usage[0]?.outcome).toBe('gateway_crash');
    expect(10_000_000n - swept.walletBalanceMicro).toBe(usage[0]?.costMicro);
    expect(await tenantLedger('check', [])).toMatchObject({ ok: true, problems: [] });
    // The ring that swept the hold copies the record it wrote.
    const copied = await pollUntil(async () => {
      const rows = await started().d1(
        'SELECT request_id, outcome, cost FROM usage_records WHERE tenant_id = ?',
        tenant.tenantId,
      );
      return rows.length > 0 ? rows : undefined;
    }, 'the swept request copied to D1');
    expect(copied).toEqual([
      {
        request_id: usage[0]?.requestId,
        outcome: 'gateway_crash',
        cost: Number(usage[0]?.costMicro),
      },
    ]);
  }, 90_000);
});

describe('a grant that expires', () => {
  it('is expired by the alarm at its time, leaving nothing to spend', async () => {
    const call = httpCaller(started().url);
    const granted = await grantCoupon(call, adminToken, tenant.tenantId, {
      kind: 'compute',
      amount: '3.00',
      expires_at: new Date(Date.now() + 1_500).toISOString(),
      reference: 'expiring-grant',
    });
    type CouponView = { id: string; status: string; remaining: string };
    const couponOf = async () => {
      const view = await expectOk(call, 'GET', `/admin/v1/tenants/${tenant.tenantId}`, adminToken);
      return (view.coupons as CouponView[]).find((coupon) => coupon.id === granted.id);
    };
    expect(await couponOf()).toMatchObject({ status: 'active', remaining: '3.00' });
    const expired = await pollUntil(
      async () => {
        const coupon = await couponOf();
        return coupon?.status === 'expired' ? coupon : undefined;
      },
      'the alarm to expire the grant',
      15_000,
      100,
    );
    expect(expired).toMatchObject({ remaining: '0.00' });
    expect(await tenantLedger('check', [])).toMatchObject({ ok: true, problems: [] });
  });
});
