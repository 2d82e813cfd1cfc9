import { describe, expect, it } from 'vitest';
import { type BookedPrice, currentPrices, priceFor } from './price-book.ts';

type TestPrice = BookedPrice & { id: string; inputPerMillion: bigint };

function price(overrides: Partial<TestPrice>): TestPrice {
  return {
    id: 'prc_1',
    model: 'm',
    region: '',
    version: 1,
    inputPerMillion: 1_000_000n,
    effectiveAtMs: 0,
    createdAtMs: 0,
    ...overrides,
  };
}

describe('price book', () => {
  it('takes the newest version already in effect', () => {
    const book = currentPrices(
      [
        price({ version: 1, inputPerMillion: 1n }),
        price({ version: 2, inputPerMillion: 2n }),
        price({ version: 3, inputPerMillion: 3n, effectiveAtMs: 5_000 }),
      ],
      1_000,
    );
    expect(book.map((entry) => entry.inputPerMillion)).toEqual([2n]);
  });

  it('prefers a region price and falls back to the regionless one', () => {
    const book = currentPrices(
      [price({ region: '', inputPerMillion: 1n }), price({ region: 'east', inputPerMillion: 9n })],
      0,
    );
    expect(priceFor(book, 'm', 'east')?.inputPerMillion).toBe(9n);
    expect(priceFor(book, 'm', 'west')?.inputPerMillion).toBe(1n);
    expect(priceFor(book, 'other', 'east')).toBeUndefined();
  });
});
