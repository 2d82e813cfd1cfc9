/**
 * Assertions for programmer errors only. Expected failures (bad input, no money, no backend) are
 * values or GatewayErrors; an assertion failing means the code is wrong, so it throws loudly.
 */

export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new AssertionError(message);
  }
}
