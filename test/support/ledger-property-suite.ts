/**
 * Model-based property test of the Ledger on every store, SQLite, PostgreSQL and the Durable
 * Object ledger of Workers (DESIGN.md §4, billing.md §9). Seeded command sequences (requests,
 * top-ups, grants, voids, expiries, sweeps, price and payout-rate versions, payouts, adjustments,
 * storage ticks, card-hour leases and their early ends) run against a fresh store and, beside it,
 * a small reference model written from the rules alone (ledger-model/): after every command the
 * two must agree to the micro-unit, and the ledger's own check must find nothing wrong; the
 * programs' statements must say what the model's coupons did. Charges have lines by meter: a
 * request's tokens (compute coupons), the bytes it carried between regions (transport coupons,
 * reserved with the tokens and settled on the bytes actually carried), and storage ticks
 * (storage coupons); the wallet pays what a line's coupons do not. A lease is paid up front by
 * compute coupons and the wallet, or refused with nothing held; ending it early refunds the hours
 * not delivered to its payers pro rata and pays the providers their share of the rest.
 *
 * This module is the runner; the model, its commands, their arbitraries and the checks live in
 * ledger-model/. test/ledger-properties.test.ts runs it on SQLite and PostgreSQL,
 * test/workers-ledger-properties.test.ts on Durable Objects in workerd.
 * LEDGER_PROPERTY_RUNS sets the number of sequences on SQLite (default 1,000; `npm run test:deep`
 * asks for 10,000), LEDGER_PROPERTY_RUNS_POSTGRES on PostgreSQL (default 150: each command there
 * is a few network round trips, and the same seed replays the same first sequences),
 * LEDGER_PROPERTY_RUNS_DURABLE on Durable Objects (default 1,000: each call crosses loopback),
 * LEDGER_PROPERTY_SEED another seed to explore with, LEDGER_PROPERTY_STATS=1 prints what the
 * sequences exercised. A failure prints its seed and path: `{ seed, path }` replays it exactly.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { commands, openingBalance, openingGrants } from './ledger-model/command-arbitraries.ts';
import { printTally, tallied, tallyEndings, tallyWanted } from './ledger-model/command-tally.ts';
import { Grant, TopUp } from './ledger-model/commands/funding-commands.ts';
import { sweepBoth } from './ledger-model/commands/gateway-commands.ts';
import { expectAgreement } from './ledger-model/expect-agreement.ts';
import { expectStatements } from './ledger-model/expect-statements.ts';
import {
  backends,
  longestRequestMs,
  modelNames,
  providers,
  tenantIds,
} from './ledger-model/fixed-world.ts';
import {
  initialModel,
  type Model,
  openReservations,
  type World,
} from './ledger-model/reference-model.ts';
import type { LedgerStore } from './ledger-stores.ts';

const sequenceCounts: Record<LedgerStore['name'], number> = {
  SQLite: Number(process.env.LEDGER_PROPERTY_RUNS ?? '1000'),
  PostgreSQL: Number(process.env.LEDGER_PROPERTY_RUNS_POSTGRES ?? '150'),
  'Durable Object': Number(process.env.LEDGER_PROPERTY_RUNS_DURABLE ?? '1000'),
};
/**
 * The time budget of one sequence: PostgreSQL and the Durable Objects answer over the network
 * (loopback to workerd), on a shared machine.
 */
const sequenceMsMax: Record<LedgerStore['name'], number> = {
  SQLite: 60,
  PostgreSQL: 400,
  'Durable Object': 1_500,
};
const propertySeed = Number(process.env.LEDGER_PROPERTY_SEED ?? '20260610');

/**
 * A fresh store per sequence (in-memory SQLite, an emptied PostgreSQL database, a new Durable
 * Object), with the rows the ledger reads.
 */
async function openWorld(model: Model, store: LedgerStore): Promise<World> {
  const world = await store.openWorld(
    {
      tenants: tenantIds.map((id) => ({ id, clampAllowed: true })),
      providers,
      backends: backends.map((backend) => ({ ...backend, models: modelNames })),
      prices: [...model.currentPrice].map(([name, price]) => ({ price, model: name, version: 0 })),
    },
    { ledgerCount: 1, onFile: false },
  );
  const [ledger] = world.ledgers;
  if (!ledger) {
    throw new Error('a world has a ledger');
  }
  return { ledger, store: world };
}

afterAll(printTally);

/** The suite on each of `stores`, with its number of sequences. */
export function describeLedgerProperties(stores: readonly LedgerStore[]): void {
  describe.each(stores)('the $name ledger against a reference model', (store) => {
    const sequenceCount = sequenceCounts[store.name];
    beforeAll(() => store.setUp(inject('postgresAdminUrl')));
    afterAll(() => store.tearDown());

    it(
      `agrees with the model after every command of ${sequenceCount} seeded sequences, and leaks no hold`,
      async () => {
        await fc.assert(
          fc.asyncProperty(
            openingBalance,
            openingGrants,
            commands,
            async (openingMicro, grantsFirst, sequence) => {
              const model = initialModel();
              const world = await openWorld(model, store);
              try {
                for (const instanceId of model.gateways) {
                  await world.ledger.heartbeat(instanceId, model.nowMs);
                  model.heartbeats.set(instanceId, model.nowMs);
                }
                if (openingMicro > 0n) {
                  await new TopUp(0, openingMicro, 'new', 0).run(model, world);
                }
                for (const terms of grantsFirst) {
                  await new Grant(0, terms, 'new', 0, 0).run(model, world);
                }
                const run = tallyWanted ? [...sequence].map(tallied) : sequence;
                await fc.asyncModelRun(() => ({ model, real: world }), run);
                // Quiet at last: the gateways stop, everything still open is swept, nothing stays held.
                model.nowMs += longestRequestMs + 1;
                await sweepBoth(model, world, false);
                await expectAgreement(model, world);
                await expectStatements(model, world);
                expect(openReservations(model)).toEqual([]);
                expect((await world.ledger.tenantMoney('tenant-1', model.nowMs)).holdsMicro).toBe(
                  0n,
                );
                if (tallyWanted) {
                  tallyEndings(model);
                }
              } finally {
                await world.store.close();
              }
            },
          ),
          { seed: propertySeed, numRuns: sequenceCount },
        );
      },
      60_000 + sequenceCount * sequenceMsMax[store.name],
    );
  });
}
