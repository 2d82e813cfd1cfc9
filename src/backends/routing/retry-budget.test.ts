import { describe, expect, it } from 'vitest';
import { createRetryBudget } from './retry-budget.ts';

describe('retry budget', () => {
  it('allows the floor of retries however few requests are in flight', () => {
    const budget = createRetryBudget({ retryBudgetBps: 1_000, retryBudgetMin: 3 });
    expect([1, 2, 3, 4].map(() => budget.tryAcquire(0))).toEqual([true, true, true, false]);
    budget.release();
    expect(budget.tryAcquire(0)).toBe(true);
  });

  it('allows a tenth of the requests in flight above the floor', () => {
    const budget = createRetryBudget({ retryBudgetBps: 1_000, retryBudgetMin: 3 });
    let granted = 0;
    while (budget.tryAcquire(100)) {
      granted += 1;
    }
    expect(granted).toBe(10);
    expect(budget.retriesInFlight).toBe(10);
    expect(budget.capacity(1_000)).toBe(100);
  });

  it('never counts below zero', () => {
    const budget = createRetryBudget({ retryBudgetBps: 0, retryBudgetMin: 1 });
    budget.release();
    expect(budget.retriesInFlight).toBe(0);
    expect(budget.tryAcquire(50)).toBe(true);
    expect(budget.tryAcquire(50)).toBe(false);
  });
});
