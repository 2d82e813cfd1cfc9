/**
 * `npx wrangler deploy --dry-run` bundles the gateway Worker offline, and the bundle stays under
 * the Workers size limit: 3 MiB compressed on the Free plan, the stricter one (10 MiB on paid
 * plans). The margin is what the bundle has left before tiktoken's WASM could ever be added.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleWorker } from './support/workers-runtime.ts';

const freePlanCompressedKiBMax = 3 * 1024;

describe('the Worker bundle', () => {
  it('builds with wrangler offline and fits the Free plan size limit', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'tokenbank-bundle-'));
    try {
      const size = await bundleWorker(directory);
      expect(size.gzipKiB).toBeGreaterThan(0);
      expect(size.gzipKiB).toBeLessThan(freePlanCompressedKiBMax);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
