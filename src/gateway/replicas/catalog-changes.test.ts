import { describe, expect, it } from 'vitest';
import { parseCatalogChange } from './catalog-changes.ts';

describe('parseCatalogChange', () => {
  it('accepts exactly the changes it knows', () => {
    expect(parseCatalogChange({ kind: 'key', keyId: 'key_1' })).toEqual({
      kind: 'key',
      keyId: 'key_1',
    });
    expect(parseCatalogChange({ kind: 'prices' })).toEqual({ kind: 'prices' });
    expect(parseCatalogChange({ kind: 'backend', backendId: 'bkd_1' })).toEqual({
      kind: 'backend',
      backendId: 'bkd_1',
    });
  });

  it('ignores anything else a channel may carry', () => {
    expect(parseCatalogChange({ kind: 'key' })).toBeUndefined();
    expect(parseCatalogChange({ kind: 'key', keyId: '' })).toBeUndefined();
    expect(parseCatalogChange({ kind: 'prices', extra: 1 })).toBeUndefined();
    expect(parseCatalogChange({ kind: 'drop_tables' })).toBeUndefined();
    expect(parseCatalogChange('prices')).toBeUndefined();
    expect(parseCatalogChange(null)).toBeUndefined();
  });
});
