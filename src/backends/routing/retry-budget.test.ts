import { describe, expect, it } from 'vitest';
import { createRetryBudget } from './retry-budget.ts';

describe('retry budget', () => {
  it('allows the floor of later retries however few requests are in flight', () => {
    const budget = createRetryBudget({ retryBudgetBps: 1_000, retryBudgetMin: 3 });
    expect([1, 2, 3, 4].map(() => budget.tryAcquire(0, false))).toEqual([true, true, true, false]);
    budget.release();
    expect(budget.tryAcquire(0, false)).toBe(true);
  });

  it('allows a tenth of the requests in flight above the floor', () => {
    const budget = createRetryBudget({ retryBudgetBps: 1_000, retryBudgetMin: 3 });
    let granted = 0;
    while (budget.tryAcquire(100, false)) {
      granted += 1;
    }
    expect(granted).toBe(10);
    expect(budget.retriesInFlight).toBe(10);
    expect(budget.capacity(1_000)).toBe(100);
  });

  it('never refuses a first retry, and counts it against later ones', () => {
    const budget = createRetryBudget({ retryBudgetBps: 1_000, retryBudgetMin: 3 });
    const firstRetries = Array.from({ length: 12 }, () => budget.tryAcquire(12, true));
    expect(firstRetries.every(Boolean)).toBe(true);
    expect(budget.retriesInFlight).toBe(12);
    expect(budget.tryAcquire(12, false)).toBe(false);
    for (let index = 0; index < 10; index += 1) {
      budget.release();
    }
    expect(budget.tryAcquire(12, false)).toBe(true);
  });

  it('never counts below zero', () => {
    const budget = createRetryBudget({ retryBudgetBps: 0, retryBudgetMin: 1 });
    budget.release();
    expect(budget.retriesInFlight).toBe(0);
    expect(budget.tryAcquire(50, false)).toBe(true);
    expect(budget.tryAcquire(50, false)).toBe(false);
  });
});
