/**
 * The shape the ledger check's rule suites share (test/ledger-*-check.test.ts), on every store,
 * SQLite and PostgreSQL: a world the ledger itself prepared passes the check, and each rule,
 * broken on purpose by a row changed from outside the ledger as a faulty writer would leave it,
 * fails the check with the problem that names it. Each rule starts from a fresh world.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { PinnedPrice } from '../../src/billing/cost.ts';
import type { GrantInput, Ledger } from '../../src/billing/ledger.ts';
import {
  executeOutsideLedger,
  type LedgerWorld,
  ledgerStores,
  soleLedgerOf,
  type WorldSeed,
} from './ledger-stores.ts';

/** 1.00 a million tokens in and out, none for cached input. */
export const unitPrice: PinnedPrice = {
  priceId: 'price-1',
  inputPerMillion: 1_000_000n,
  cachedInputPerMillion: 0n,
  outputPerMillion: 1_000_000n,
  multiplierBps: 10_000,
};

/** Coupon coupon-1 of tenant-1, granted at 0: any model and region, half of each cost covered. */
export function halfCoverageCoupon(
  terms: Pick<GrantInput, 'kind' | 'program' | 'amountMicro'>,
): GrantInput {
  return {
    ...terms,
    id: 'coupon-1',
    tenantId: 'tenant-1',
    coverageBps: 5_000,
    models: null,
    regions: null,
    priority: 50,
    startsAtMs: 0,
    expiresAtMs: null,
    reference: 'grant-1',
    atMs: 0,
  };
}

/** A rule of the check, the SQL that breaks it, and the problem the check must then report. */
export type BrokenRule = { rule: string; sql: string; problem: string };

export type LedgerCheckRules = {
  /** What the check is of, as the suite names it: `leases`, `storage ticks`. */
  subject: string;
  seed: WorldSeed;
  /** Writes, through the ledger, what the rules are then broken on. */
  prepare(ledger: Ledger, world: LedgerWorld): Promise<void>;
  /** What the prepared world holds, as the passing test names it. */
  prepared: string;
  rules: readonly BrokenRule[];
};

export function describeLedgerCheckRules(suite: LedgerCheckRules): void {
  describe.each(ledgerStores())(`the ledger check of ${suite.subject} on $name`, (store) => {
    let world: LedgerWorld;
    let ledger: Ledger;

    beforeAll(() => store.setUp(inject('postgresAdminUrl')));
    afterAll(() => store.tearDown());
    beforeEach(async () => {
      world = await store.openWorld(suite.seed, { ledgerCount: 1, onFile: true });
      ledger = soleLedgerOf(world);
      await suite.prepare(ledger, world);
    });
    afterEach(() => world.close());

    it(`passes ${suite.prepared}`, async () => {
      expect(await ledger.check()).toMatchObject({ ok: true, problems: [] });
    });

    it.each(suite.rules)('reports a row that breaks the rule: $rule', async ({ sql, problem }) => {
      await executeOutsideLedger(world, sql);
      const check = await ledger.check();
      expect(check.ok).toBe(false);
      expect(check.problems).toContain(problem);
    });
  });
}
