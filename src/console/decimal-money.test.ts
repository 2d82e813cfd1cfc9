import { describe, expect, it } from 'vitest';
import { addMoney, fromMicro, subtractMoney, toMicro } from './decimal-money.ts';

describe('decimal money in the console', () => {
  it('reads and writes the API decimal strings exactly', () => {
    expect(toMicro('12.50')).toBe(12_500_000n);
    expect(toMicro('0.000001')).toBe(1n);
    expect(toMicro('-3')).toBe(-3_000_000n);
    expect(fromMicro(12_500_000n)).toBe('12.50');
    expect(fromMicro(1n)).toBe('0.000001');
    expect(fromMicro(-1_234_500n)).toBe('-1.2345');
    expect(fromMicro(0n)).toBe('0.00');
  });

  it('adds without floating point error', () => {
    expect(addMoney('0.1', '0.2')).toBe('0.30');
    expect(addMoney('9007199254740.993001', '0.000001')).toBe('9007199254740.993002');
    expect(subtractMoney('10.00', '12.345678')).toBe('-2.345678');
  });

  it('refuses what is not an amount', () => {
    expect(() => toMicro('1e3')).toThrow();
    expect(() => toMicro('1.1234567')).toThrow();
    expect(() => toMicro('')).toThrow();
  });
});
