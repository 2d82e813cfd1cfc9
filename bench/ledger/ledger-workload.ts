/**
 * The work both ledger benches measure, written once so the SQLite and PostgreSQL tables compare
 * the same thing: one tenant funded with a balance and a 50% compute voucher (every pair goes
 * through the coupon waterfall), the request pair a gateway makes (reserve, then settle a
 * complete answer), and the two variants (one transaction per operation, group commit).
 */
import { readFileSync } from 'node:fs';
import type { PinnedPrice } from '../../src/billing/cost.ts';
import type { Ledger, ReserveInput } from '../../src/billing/ledger.ts';

export const price: PinnedPrice = {
  priceId: 'prc_bench',
  inputPerMillion: 2_000_000n,
  cachedInputPerMillion: 1_000_000n,
  outputPerMillion: 6_000_000n,
  multiplierBps: 10_000,
};

export type Variant = { name: string; groupCommit: boolean };
export const variants: Variant[] = [
  { name: 'one transaction per operation (baseline)', groupCommit: false },
  { name: 'group commit (production)', groupCommit: true },
];

/** Funds `ten_bench` (its row already written) with far more than any run spends. */
export async function fundBenchTenant(ledger: Ledger): Promise<void> {
  await ledger.topUp({
    tenantId: 'ten_bench',
    amountMicro: 9_000_000_000_000n,
    reference: 'bench',
    atMs: 0,
  });
  await ledger.grantCoupon({
    id: 'cpn_bench',
    tenantId: 'ten_bench',
    kind: 'compute',
    program: 'bench',
    amountMicro: 1_000_000_000_000n,
    coverageBps: 5000,
    models: null,
    regions: null,
    priority: 50,
    startsAtMs: 0,
    expiresAtMs: null,
    reference: 'bench-coupon',
    atMs: 0,
  });
}

/** The reservation of a bench request: 300 prompt tokens and up to 256 out, at the bench price. */
export function benchReservation(
  requestId: string,
  tenantId = 'ten_bench',
  atMs = 1,
): ReserveInput {
  return {
    requestId,
    tenantId,
    keyId: tenantId.replace(/^ten_/, 'key_'),
    model: 'bench-model',
    region: 'east',
    price,
    promptTokensEstimate: 300,
    outputTokensMax: 256,
    clampAllowed: false,
    atMs,
    instanceId: 'gw_bench',
  };
}

/** One request's money: its reservation at `atMs`, then its settlement a millisecond later. */
export async function pair(ledger: Ledger, requestId: string, atMs = 1): Promise<void> {
  const reserved = await ledger.reserve(benchReservation(requestId, 'ten_bench', atMs));
  if (!reserved.ok) {
    throw new Error('the bench tenant ran out of money');
  }
  await ledger.settle({
    requestId,
    usage: {
      inputTokens: 280,
      cachedInputTokens: 0,
      outputTokens: 120,
      reasoningTokens: undefined,
      source: 'provider',
    },
    outcome: 'complete',
    servedBy: { backendId: 'bkd_bench', providerId: 'prv_bench', region: 'east' },
    price,
    atMs: atMs + 1,
  });
}

/** utime+stime of a thread or process from its /proc stat file, in ms. */
export function cpuMsOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100;
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}
