import { describe, expect, it } from 'vitest';
import { createPayoutRates } from './payout-rates.ts';
import { migrateSqlite, openSqlite } from './sqlite-database.ts';

function harness() {
  const opened = openSqlite(':memory:');
  migrateSqlite(opened);
  const { connection } = opened;
  connection.exec(`INSERT INTO providers (id, name, payout_bps, token_hash, created_at_ms)
    VALUES ('provider-1', 'one', 7000, 'hash', 0)`);
  const publish = (version: number, payoutBps: number, effectiveAtMs: number) =>
    connection
      .prepare(
        `INSERT INTO provider_payout_rates (provider_id, version, payout_bps, effective_at_ms,
           created_at_ms) VALUES ('provider-1', ?, ?, ?, 0)`,
      )
      .run(version, payoutBps, effectiveAtMs);
  return { rates: createPayoutRates(connection), publish };
}

describe('payout rates read once per transaction', () => {
  it('answers the newest version effective at the time, else the rate the provider began with', () => {
    const { rates, publish } = harness();
    publish(1, 8000, 100);
    publish(2, 9000, 100);
    publish(3, 6000, 500);
    expect(rates.payoutBpsAt('provider-1', 99)).toBe(7000);
    expect(rates.payoutBpsAt('provider-1', 100)).toBe(9000);
    expect(rates.payoutBpsAt('provider-1', 499)).toBe(9000);
    expect(rates.payoutBpsAt('provider-1', 500)).toBe(6000);
    expect(rates.payoutBpsAt('provider-unknown', 500)).toBeUndefined();
  });

  it('sees a version published after its first read only once the next transaction begins', () => {
    const { rates, publish } = harness();
    expect(rates.payoutBpsAt('provider-1', 1_000)).toBe(7000);
    publish(1, 8000, 0);
    expect(rates.payoutBpsAt('provider-1', 1_000)).toBe(7000);
    rates.forget();
    expect(rates.payoutBpsAt('provider-1', 1_000)).toBe(8000);
  });
});
