/**
 * Vitest global setup of the integration project: one folder for the run in which the first
 * Workers suite that needs the Worker bundles it with wrangler (workers-runtime.ts
 * `sharedWorkerBundle`) and every later one reuses that bundle, instead of each suite bundling
 * the same sources again. Lazy, so a run without Workers suites bundles nothing; the folder goes
 * at the end of the run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    workerBundleRunDirectory: string;
  }
}

export function setup(project: TestProject): () => void {
  const directory = mkdtempSync(join(tmpdir(), 'tokenbank-worker-bundle-'));
  project.provide('workerBundleRunDirectory', directory);
  return () => rmSync(directory, { recursive: true, force: true });
}
