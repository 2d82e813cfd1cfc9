import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMoney, moneyMicroMax, parseMoney } from './money.ts';

describe('money', () => {
  it.each([
    { text: '12.50', micro: 12_500_000n },
    { text: '0', micro: 0n },
    { text: '0.000001', micro: 1n },
    { text: '3', micro: 3_000_000n },
    { text: '9007199254.740991', micro: 9_007_199_254_740_991n },
  ])('parses $text', ({ text, micro }) => {
    expect(parseMoney(text)).toEqual({ ok: true, micro });
  });

  it.each([
    '-1',
    '9007199254.740992',
    '99999999999',
    '1e3',
    '1.0000001',
    '',
    '.5',
    '1.',
    ' 1',
    'NaN',
    '1,5',
    '0x10',
  ])('refuses %j', (text) => {
    expect(parseMoney(text).ok).toBe(false);
  });

  it.each([
    { micro: 12_500_000n, text: '12.50' },
    { micro: 1n, text: '0.000001' },
    { micro: 0n, text: '0.00' },
    { micro: -1_230_000n, text: '-1.23' },
    { micro: 1_234_567n, text: '1.234567' },
  ])('formats $micro as $text', ({ micro, text }) => {
    expect(formatMoney(micro)).toBe(text);
  });

  it('round-trips every non-negative amount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: moneyMicroMax }), (micro) => {
        const parsed = parseMoney(formatMoney(micro));
        expect(parsed).toEqual({ ok: true, micro });
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});
