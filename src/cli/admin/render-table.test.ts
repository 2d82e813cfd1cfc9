import { describe, expect, it } from 'vitest';
import {
  column,
  escapeControlCharacters,
  formatValue,
  listItems,
  renderList,
  renderRecord,
  renderSecretRecord,
  renderTable,
} from './render-table.ts';

describe('formatValue', () => {
  it.each([
    { name: 'null', value: null, text: '-' },
    { name: 'missing', value: undefined, text: '-' },
    { name: 'a money string stays as sent', value: '2.000001', text: '2.000001' },
    { name: 'a number', value: 7000, text: '7000' },
    { name: 'a boolean', value: false, text: 'false' },
    { name: 'a list', value: ['cn-east', 'cn-north'], text: 'cn-east,cn-north' },
    { name: 'an empty list', value: [], text: '-' },
    {
      name: 'an object',
      value: { start: '22:00', multiplier_bps: 5000 },
      text: 'start=22:00 multiplier_bps=5000',
    },
  ])('formats $name', ({ value, text }) => {
    expect(formatValue(value)).toBe(text);
  });
});

describe('escapeControlCharacters', () => {
  it('keeps a terminal escape from reaching the terminal', () => {
    expect(escapeControlCharacters('evil\u001b[2Jname\n')).toBe('evil\\u001b[2Jname\\u000a');
  });

  it('leaves ordinary text alone, including non-ASCII', () => {
    expect(escapeControlCharacters('Acme 北京 café')).toBe('Acme 北京 café');
  });
});

describe('renderTable', () => {
  it('pads each column to its widest cell and trims line ends', () => {
    const text = renderTable(
      [
        { id: 'ten_1', name: 'Acme Corp', region: null },
        { id: 'ten_22', name: 'B', region: 'cn-east' },
      ],
      [column('ID', 'id'), column('NAME', 'name'), column('REGION', 'region')],
    );
    expect(text).toBe(
      ['ID      NAME       REGION', 'ten_1   Acme Corp  -', 'ten_22  B          cn-east', ''].join(
        '\n',
      ),
    );
  });
});

describe('renderList', () => {
  it('says so when the list is empty', () => {
    expect(renderList({ object: 'list', data: [] }, [column('ID', 'id')], 'backends')).toBe(
      'no backends\n',
    );
  });

  it('reads only the records of a list answer', () => {
    expect(listItems({ object: 'list', data: [{ id: 'a' }, 3, null] })).toEqual([{ id: 'a' }]);
    expect(listItems({ error: {} })).toEqual([]);
  });
});

describe('renderRecord', () => {
  it('aligns key: value lines, skips `object` and shows lists of records as a table', () => {
    const text = renderRecord({
      id: 'ten_1',
      object: 'tenant',
      balance: '12.50',
      allowed_regions: null,
      coupons: [{ id: 'cpn_1', remaining: '3.00' }],
    });
    expect(text).toBe(
      [
        'id:              ten_1',
        'balance:         12.50',
        'allowed_regions: -',
        '',
        'coupons:',
        'ID     REMAINING',
        'cpn_1  3.00',
        '',
      ].join('\n'),
    );
  });
});

describe('renderSecretRecord', () => {
  it('puts the secret alone on its own line and says it is shown once', () => {
    const text = renderSecretRecord({ id: 'key_1', key: 'tbk-secret' }, 'key', 'API key');
    const lines = text.split('\n');
    expect(lines[0]).toContain('shown only once');
    expect(lines[2]).toBe('    tbk-secret');
    expect(lines.filter((line) => line.includes('tbk-secret'))).toHaveLength(1);
    expect(text).toContain('id: key_1');
  });
});
