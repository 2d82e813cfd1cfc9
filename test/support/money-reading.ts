/**
 * Reading the API's decimal money strings back into micro-units in tests, and adding them up,
 * so assertions compare exact integers rather than strings or floats.
 */
import { parseMoney } from '../../src/billing/money.ts';

/** A decimal amount of the API as micro-units; a negative one stays negative. */
export function micro(text: string): bigint {
  const negative = text.startsWith('-');
  const parsed = parseMoney(negative ? text.slice(1) : text);
  if (!parsed.ok) {
    throw new Error(`not a decimal amount: ${text}`);
  }
  return negative ? -parsed.micro : parsed.micro;
}

export function sum(amounts: Iterable<bigint>): bigint {
  let total = 0n;
  for (const amount of amounts) {
    total += amount;
  }
  return total;
}
