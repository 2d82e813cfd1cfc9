/**
 * Waiting for a condition in a test by watching it, never by sleeping a fixed time: the check
 * runs every few milliseconds until it passes or the bound runs out, which fails the test with
 * what was awaited.
 */
export async function pollUntil<Value>(
  check: () => Promise<Value | undefined> | Value | undefined,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<Value> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
