import { describe, expect, it } from 'vitest';
import { toCsv } from './csv.ts';

describe('toCsv', () => {
  it('writes a header and rows, quoting what needs it', () => {
    expect(
      toCsv(
        ['a', 'b'],
        [
          ['plain', 'has,comma'],
          ['say "hi"', null],
          [12.5, 'line\nbreak'],
        ],
      ),
    ).toBe('a,b\r\nplain,"has,comma"\r\n"say ""hi""",\r\n12.5,"line\nbreak"\r\n');
  });

  it('neutralises spreadsheet formulas but keeps negative numbers', () => {
    expect(toCsv(['x'], [['=SUM(A1)'], ['-1.50'], ['@cmd']])).toBe(
      "x\r\n'=SUM(A1)\r\n-1.50\r\n'@cmd\r\n",
    );
  });
});
