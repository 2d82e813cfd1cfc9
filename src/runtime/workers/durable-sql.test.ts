import { describe, expect, it } from 'vitest';
import { bound, positional } from './durable-sql.ts';

describe('statements on Durable Object storage', () => {
  it('binds money as decimal text and booleans as 0 or 1, which the storage API takes', () => {
    expect(bound(9_007_199_254_740_993n)).toBe('9007199254740993');
    expect(bound(true)).toBe(1);
    expect(bound(false)).toBe(0);
    expect(bound(undefined)).toBeNull();
  });

  it('turns named parameters into positional ones, in the order they appear', () => {
    expect(positional('a = @x AND b = @y OR c = @x', { x: 1, y: 'two' })).toEqual([
      'a = ? AND b = ? OR c = ?',
      [1, 'two', 1],
    ]);
    expect(() => positional('a = @missing', {})).toThrow(/@missing/);
  });
});
