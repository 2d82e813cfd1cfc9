/** A backend record with test defaults, for the unit tests of the backends folder. */
import type { BackendRecord } from '../db/catalog.ts';

export function backendRecord(overrides: Partial<BackendRecord> = {}): BackendRecord {
  return {
    id: 'bkd_test',
    providerId: 'prv_test',
    url: 'http://127.0.0.1:9/v1',
    region: 'east',
    models: ['m'],
    slots: 8,
    apiKey: null,
    metricsUrl: null,
    state: 'active',
    createdAtMs: 0,
    updatedAtMs: 0,
    ...overrides,
  };
}
