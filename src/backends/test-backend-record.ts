/** A backend record and pool settings with test defaults, for the backends folder's unit tests. */
import { limitsSchema } from '../config.ts';
import type { BackendRecord } from '../db/catalog.ts';
import { BackendPool, type PooledBackend, type PoolSettings } from './backend-pool.ts';

export function backendRecord(overrides: Partial<BackendRecord> = {}): BackendRecord {
  return {
    id: 'bkd_test',
    providerId: 'prv_test',
    url: 'http://127.0.0.1:9/v1',
    region: 'east',
    models: ['m'],
    slots: 8,
    accelerators: 1,
    accelerator: null,
    apiKey: null,
    metricsUrl: null,
    state: 'active',
    createdAtMs: 0,
    updatedAtMs: 0,
    ...overrides,
  };
}

/** The pool settings of the default limits, with test overrides. */
export function poolSettings(overrides: Partial<PoolSettings> = {}): PoolSettings {
  return { ...limitsSchema.parse({}), ...overrides };
}

/** A pool holding the given backends (default settings unless given), and the backends in order. */
export function poolWithBackends(
  records: readonly BackendRecord[],
  settings: PoolSettings = poolSettings(),
): { pool: BackendPool; backends: PooledBackend[] } {
  const pool = new BackendPool(settings);
  const backends = records.map((record) => {
    pool.upsert(record);
    const backend = pool.get(record.id);
    if (backend === undefined) {
      throw new Error(`backend ${record.id} did not enter the pool`);
    }
    return backend;
  });
  return { pool, backends };
}
