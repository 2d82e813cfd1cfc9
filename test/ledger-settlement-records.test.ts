/**
 * What a settlement writes on every store, SQLite and PostgreSQL (DESIGN.md §4): the provider's
 * share is its payout rate of the money collected from the tenant, never of a write-off, and the
 * ledger check reports a usage record whose share exceeds that, as a store with a wrong row
 * would hold it; what a backend claimed beyond the bound is kept on the usage record.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PinnedPrice } from '../src/billing/cost.ts';
import type { Ledger } from '../src/billing/ledger.ts';
import {
  executeOutsideLedger,
  type LedgerWorld,
  ledgerStores,
  soleLedgerOf,
} from './support/ledger-stores.ts';

const price: PinnedPrice = {
  priceId: 'price-1',
  inputPerMillion: 1_000_000n,
  cachedInputPerMillion: 0n,
  outputPerMillion: 1_000_000n,
  multiplierBps: 10_000,
};
const payoutBps = 7_000;
const seed = {
  tenants: [{ id: 'tenant-1', clampAllowed: false }],
  providers: [{ id: 'provider-1', payoutBps }],
  backends: [{ id: 'backend-1', providerId: 'provider-1', region: 'east', models: ['model-a'] }],
  prices: [{ price, model: 'model-a', version: 1 }],
};
const servedBy = { backendId: 'backend-1', providerId: 'provider-1', region: 'east' };
const everything = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };

/** A request that costs 3,000 micro-units against a wallet of 1,000: 2,000 are written off. */
async function settleBeyondTheWallet(ledger: Ledger, requestId: string) {
  await ledger.topUp({ tenantId: 'tenant-1', amountMicro: 1_000n, reference: 'pay-1', atMs: 1 });
  const reserved = await ledger.reserve({
    requestId,
    tenantId: 'tenant-1',
    keyId: 'key-1',
    model: 'model-a',
    region: 'east',
    price,
    promptTokensEstimate: 100,
    outputTokensMax: 100,
    clampAllowed: false,
    atMs: 2,
    instanceId: 'instance-1',
  });
  expect(reserved.ok).toBe(true);
  return ledger.settle({
    requestId,
    usage: {
      inputTokens: 1_000,
      cachedInputTokens: 0,
      outputTokens: 2_000,
      reasoningTokens: undefined,
      source: 'provider',
    },
    outcome: 'complete',
    servedBy,
    price,
    atMs: 3,
  });
}

describe.each(ledgerStores())('settlement records on $name', (store) => {
  let world: LedgerWorld;
  let ledger: Ledger;

  beforeAll(async () => {
    await store.setUp(inject('postgresAdminUrl'));
    world = await store.openWorld(seed, { ledgerCount: 1, onFile: true });
    ledger = soleLedgerOf(world);
  });
  afterAll(async () => {
    await world.close();
    await store.tearDown();
  });

  it('pays the provider its rate of what was collected, never of the write-off', async () => {
    const settled = await settleBeyondTheWallet(ledger, 'request-1');
    expect(settled.costMicro).toBe(3_000n);
    expect(settled.paidBy).toEqual([
      { source: 'wallet', id: null, kind: 'wallet', amountMicro: 1_000n },
      { source: 'write_off', id: null, kind: 'write_off', amountMicro: 2_000n },
    ]);
    const [earned] = await ledger.earnings('provider-1', everything);
    // 70% of the 1,000 collected; 70% of the whole cost would be 2,100.
    expect(earned?.earnedMicro).toBe(700n);
    const payable = (await world.accountRows()).find(
      (row) => row.id === 'provider_payable:provider-1',
    );
    expect(payable?.balance).toBe(700n);
    expect(await ledger.check()).toMatchObject({ ok: true, problems: [] });
  });

  it('reports a usage record whose provider share exceeds the rate of what was collected', async () => {
    await executeOutsideLedger(
      world,
      "UPDATE usage_records SET provider_share = 2100 WHERE request_id = 'request-1'",
    );
    const check = await ledger.check();
    expect(check.ok).toBe(false);
    expect(check.problems).toEqual([
      'request request-1: provider share 2100 exceeds 700 of 1000 collected',
    ]);
  });

  it('keeps what a backend claimed beyond the bound on the usage record, null otherwise', async () => {
    await ledger.topUp({ tenantId: 'tenant-1', amountMicro: 10_000n, reference: 'pay-2', atMs: 4 });
    for (const [requestId, claimed] of [
      ['request-claimed', { inputTokens: 5_000, outputTokens: 9_000 }],
      ['request-unclaimed', undefined],
    ] as const) {
      await ledger.reserve({
        requestId,
        tenantId: 'tenant-1',
        keyId: 'key-1',
        model: 'model-a',
        region: 'east',
        price,
        promptTokensEstimate: 10,
        outputTokensMax: 10,
        clampAllowed: false,
        atMs: 5,
        instanceId: 'instance-1',
      });
      await ledger.settle({
        requestId,
        usage: {
          inputTokens: 10,
          cachedInputTokens: 0,
          outputTokens: 10,
          reasoningTokens: undefined,
          source: 'provider',
          claimed,
        },
        outcome: 'complete',
        servedBy,
        price,
        atMs: 6,
      });
    }
    const records = await ledger.usage('tenant-1', everything);
    const claimsOf = (requestId: string) => {
      const record = records.find((row) => row.requestId === requestId);
      return record && [record.claimedInputTokens, record.claimedOutputTokens];
    };
    expect(claimsOf('request-claimed')).toEqual([5_000, 9_000]);
    expect(claimsOf('request-unclaimed')).toEqual([null, null]);
    expect(claimsOf('request-1')).toEqual([null, null]);
  });
});
