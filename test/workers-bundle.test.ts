/**
 * `npx wrangler deploy --dry-run` bundles the gateway Worker offline, and the bundle stays under
 * the Workers size limit: 3 MiB compressed on the Free plan, the stricter one (10 MiB on paid
 * plans). The margin is what the bundle has left before tiktoken's WASM could ever be added.
 * The bundle is the run's one (workers-runtime.ts `sharedWorkerBundle`), the one every Workers
 * suite runs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedWorkerBundle } from './support/workers-runtime.ts';

const freePlanCompressedKiBMax = 3 * 1024;

describe('the Worker bundle', () => {
  it('builds with wrangler offline and fits the Free plan size limit', async () => {
    const { directory, size } = await sharedWorkerBundle();
    expect(existsSync(join(directory, 'worker.js'))).toBe(true);
    expect(size.gzipKiB).toBeGreaterThan(0);
    expect(size.gzipKiB).toBeLessThan(freePlanCompressedKiBMax);
  });
});
