/**
 * The price book: published price versions are immutable rows; what is "current" is derived. For
 * each model and region the newest version already in effect wins, and a region without a price
 * of its own uses the model's regionless price ('').
 */
/** What the price book reads of a published price (the catalog's price record has more). */
export type BookedPrice = {
  model: string;
  /** '' is the price of every region without one of its own. */
  region: string;
  version: number;
  effectiveAtMs: number;
  createdAtMs: number;
};

function bookKey(model: string, region: string): string {
  return `${model}\u0000${region}`;
}

/**
 * The version in effect at `atMs` for every model and region that has one. A version published
 * after `atMs` does not count even if back-dated, so the book "as of admission" can be rebuilt
 * exactly at settlement time: that is what pins a request's price.
 */
export function currentPrices<Price extends BookedPrice>(
  prices: readonly Price[],
  atMs: number,
): Price[] {
  const current = new Map<string, Price>();
  for (const price of prices) {
    if (price.effectiveAtMs > atMs || price.createdAtMs > atMs) {
      continue;
    }
    const key = bookKey(price.model, price.region);
    const held = current.get(key);
    if (!held || price.version > held.version) {
      current.set(key, price);
    }
  }
  return [...current.values()].sort(
    (left, right) =>
      left.model.localeCompare(right.model) || left.region.localeCompare(right.region),
  );
}

/** The price of a model in a region at `nowMs`, falling back to its regionless price. */
export function priceFor<Price extends BookedPrice>(
  current: readonly Price[],
  model: string,
  region: string,
): Price | undefined {
  let fallback: Price | undefined;
  for (const price of current) {
    if (price.model !== model) {
      continue;
    }
    if (price.region === region) {
      return price;
    }
    if (price.region === '') {
      fallback = price;
    }
  }
  return fallback;
}
