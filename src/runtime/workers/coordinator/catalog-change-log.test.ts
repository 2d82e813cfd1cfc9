import { describe, expect, it } from 'vitest';
import { CatalogChangeLog } from './catalog-change-log.ts';

const keyChange = (keyId: string) => ({ origin: 'gw_a', change: { kind: 'key' as const, keyId } });

describe('CatalogChangeLog', () => {
  it('gives a new reader the current cursor and nothing to apply', () => {
    const log = new CatalogChangeLog('e1', 4);
    log.append(keyChange('k1'));
    expect(log.readAfter(undefined)).toEqual({
      resync: false,
      cursor: { epoch: 'e1', sequence: 1 },
      changes: [],
    });
  });

  it('gives a reader exactly the changes after its cursor, in order', () => {
    const log = new CatalogChangeLog('e1', 4);
    const start = log.readAfter(undefined).cursor;
    log.append(keyChange('k1'));
    log.append(keyChange('k2'));
    const first = log.readAfter(start);
    expect(first).toEqual({
      resync: false,
      cursor: { epoch: 'e1', sequence: 2 },
      changes: [keyChange('k1'), keyChange('k2')],
    });
    log.append(keyChange('k3'));
    expect(log.readAfter(first.cursor)).toMatchObject({ changes: [keyChange('k3')] });
    expect(log.readAfter({ epoch: 'e1', sequence: 3 })).toMatchObject({ changes: [] });
  });

  it('tells a reader to resynchronise once what it missed is no longer kept', () => {
    const log = new CatalogChangeLog('e1', 2);
    const start = log.readAfter(undefined).cursor;
    log.append(keyChange('k1'));
    log.append(keyChange('k2'));
    expect(log.readAfter(start)).toMatchObject({
      resync: false,
      changes: [keyChange('k1'), keyChange('k2')],
    });
    log.append(keyChange('k3'));
    expect(log.readAfter(start)).toEqual({ resync: true, cursor: { epoch: 'e1', sequence: 3 } });
    expect(log.readAfter({ epoch: 'e1', sequence: 1 })).toMatchObject({
      changes: [keyChange('k2'), keyChange('k3')],
    });
  });

  it('tells a reader of another epoch (the object restarted) or from the future to resynchronise', () => {
    const log = new CatalogChangeLog('e2', 4);
    log.append(keyChange('k1'));
    expect(log.readAfter({ epoch: 'e1', sequence: 1 })).toEqual({
      resync: true,
      cursor: { epoch: 'e2', sequence: 1 },
    });
    expect(log.readAfter({ epoch: 'e2', sequence: 5 })).toMatchObject({ resync: true });
  });

  it('refuses a log that keeps nothing', () => {
    expect(() => new CatalogChangeLog('e1', 0)).toThrow(RangeError);
  });
});
