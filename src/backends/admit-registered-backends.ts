/**
 * Fills the pool at start from the backends the catalog holds. A URL was checked against the
 * address policy when it was registered, but the operator may have allowed private backends then
 * and not now, or a name may point elsewhere since: so with private backends off, every backend
 * whose URL (or metrics URL) is, or resolves to, a non-public address is refused instead of used.
 * It stays out of this process's pool, shown `refused`, until the operator deals with it.
 */
import type { BackendRecord } from '../db/catalog.ts';
import type { BackendPool } from './backend-pool.ts';
import { pointsAtNonPublicAddress, type ResolveHost } from './upstream/backend-url-policy.ts';

export type AdmissionOptions = {
  allowPrivate: boolean;
  resolveHost: ResolveHost;
  /** Told of each refused backend, to log it. */
  onRefused(record: BackendRecord, reason: string): void;
};

const refusalReason =
  'its address is loopback, private, link-local or metadata and TOKENBANK_ALLOW_PRIVATE_BACKENDS is off';

export async function admitRegisteredBackends(
  pool: BackendPool,
  records: readonly BackendRecord[],
  options: AdmissionOptions,
): Promise<void> {
  const refusals = await Promise.all(
    records.map((record) => !options.allowPrivate && isNonPublicBackend(record, options)),
  );
  records.forEach((record, index) => {
    if (refusals[index]) {
      pool.refuse(record.id, refusalReason);
      options.onRefused(record, refusalReason);
    } else {
      pool.upsert(record);
    }
  });
}

async function isNonPublicBackend(
  record: BackendRecord,
  options: AdmissionOptions,
): Promise<boolean> {
  const urls = record.metricsUrl === null ? [record.url] : [record.url, record.metricsUrl];
  const verdicts = await Promise.all(
    urls.map((url) => pointsAtNonPublicAddress(url, options.resolveHost)),
  );
  return verdicts.includes(true);
}
