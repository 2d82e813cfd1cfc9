/**
 * Providers' payout rates as the SQLite ledger's settlements read them: a provider's rate
 * versions are read once per transaction and kept until it ends, instead of one query per
 * settlement. Within one transaction nothing else writes the file (it holds the write lock and
 * runs synchronously), so the versions read at its first settlement hold for its last; the next
 * transaction reads them again, so a version the operator publishes applies from the next commit.
 */
import type Database from 'better-sqlite3';

type RateVersions = {
  /** The rate the provider was created with, used before any version is effective. */
  createdBps: number;
  /** Newest first: effective time, then version. */
  versions: { payoutBps: number; effectiveAtMs: number }[];
};

export type PayoutRates = ReturnType<typeof createPayoutRates>;

export function createPayoutRates(connection: Database.Database) {
  const statements = {
    createdBps: connection.prepare('SELECT payout_bps FROM providers WHERE id = ?').pluck(),
    versions: connection.prepare(
      `SELECT payout_bps AS payoutBps, effective_at_ms AS effectiveAtMs FROM provider_payout_rates
       WHERE provider_id = ? ORDER BY effective_at_ms DESC, version DESC`,
    ),
  };
  /** Per provider, read in this transaction; null for a provider that does not exist. */
  let read = new Map<string, RateVersions | null>();

  function versionsOf(providerId: string): RateVersions | null {
    let known = read.get(providerId);
    if (known === undefined) {
      const createdBps = statements.createdBps.get(providerId) as number | undefined;
      known =
        createdBps === undefined
          ? null
          : {
              createdBps,
              versions: statements.versions.all(providerId) as RateVersions['versions'],
            };
      read.set(providerId, known);
    }
    return known;
  }

  return {
    /** The newest version effective at `atMs`, else the rate it was created with. */
    payoutBpsAt(providerId: string, atMs: number): number | undefined {
      const rates = versionsOf(providerId);
      if (!rates) {
        return undefined;
      }
      const effective = rates.versions.find((version) => version.effectiveAtMs <= atMs);
      return effective?.payoutBps ?? rates.createdBps;
    },
    /** A transaction begins: what the last one read may have changed since. */
    forget(): void {
      read = new Map();
    },
  };
}
