import { describe, expect, it } from 'vitest';
import { BoundedMap } from './bounded-map.ts';

describe('BoundedMap', () => {
  const open = (name: string) => ({ reservation: name });

  it('returns what was remembered until it is forgotten', () => {
    const reservations = new BoundedMap<{ reservation: string }>(4);
    reservations.remember('req_1', open('one'));
    expect(reservations.get('req_1')?.reservation).toBe('one');
    reservations.forget('req_1');
    expect(reservations.get('req_1')).toBeUndefined();
    expect(reservations.size).toBe(0);
  });

  it('forgets the oldest entry when full, never holding more than its bound', () => {
    const reservations = new BoundedMap<{ reservation: string }>(2);
    reservations.remember('req_1', open('one'));
    reservations.remember('req_2', open('two'));
    reservations.remember('req_3', open('three'));
    expect(reservations.size).toBe(2);
    expect(reservations.get('req_1')).toBeUndefined();
    expect(reservations.get('req_2')?.reservation).toBe('two');
    expect(reservations.get('req_3')?.reservation).toBe('three');
  });

  it('lists its entries oldest first and forgets them all at once', () => {
    const reservations = new BoundedMap<{ reservation: string }>(4);
    reservations.remember('req_1', open('one'));
    reservations.remember('req_2', open('two'));
    expect([...reservations.entries()]).toEqual([
      ['req_1', open('one')],
      ['req_2', open('two')],
    ]);
    reservations.clear();
    expect(reservations.size).toBe(0);
    expect(reservations.get('req_2')).toBeUndefined();
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new BoundedMap<string>(0)).toThrow(/positive integer/);
  });
});
