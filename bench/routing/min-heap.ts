/**
 * A binary min-heap for the simulation's agendas (events by time, sequences by finishing step):
 * push and pop in O(log n), ordered by the `before` given.
 */
export class MinHeap<Item> {
  readonly #items: Item[] = [];
  readonly #before: (first: Item, second: Item) => boolean;

  constructor(before: (first: Item, second: Item) => boolean) {
    this.#before = before;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): Item | undefined {
    return this.#items[0];
  }

  /** Every item, in no particular order. */
  items(): readonly Item[] {
    return this.#items;
  }

  push(item: Item): void {
    const items = this.#items;
    items.push(item);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = items[parent] as Item;
      if (!this.#before(item, above)) {
        break;
      }
      items[index] = above;
      index = parent;
    }
    items[index] = item;
  }

  pop(): Item | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (last === undefined || items.length === 0) {
      return top;
    }
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= items.length) {
        break;
      }
      const right = left + 1;
      const child =
        right < items.length && this.#before(items[right] as Item, items[left] as Item)
          ? right
          : left;
      const below = items[child] as Item;
      if (!this.#before(below, last)) {
        break;
      }
      items[index] = below;
      index = child;
    }
    items[index] = last;
    return top;
  }

  clear(): void {
    this.#items.length = 0;
  }
}
