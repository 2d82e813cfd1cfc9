/**
 * Vitest global setup of the integration project: the suites spawn the `tokenbank` bin, which
 * runs the compiled build in dist/, so this makes sure that build is of the current sources. It
 * recompiles (`npm run build:server`, incremental) when a source file is newer than the last
 * build, so running one suite after an edit tests the edit, and an unchanged tree costs one
 * directory walk.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const sourceRoot = join(projectRoot, 'src');
/** Written by every build (tsconfig.build.json's tsBuildInfoFile); its time is the build's. */
const buildStamp = join(projectRoot, 'dist', '.tsbuildinfo');

function newestSourceMs(directory: string): number {
  let newestMs = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      newestMs = Math.max(newestMs, newestSourceMs(path));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      newestMs = Math.max(newestMs, statSync(path).mtimeMs);
    }
  }
  return newestMs;
}

function buildIsCurrent(): boolean {
  return existsSync(buildStamp) && statSync(buildStamp).mtimeMs >= newestSourceMs(sourceRoot);
}

export function setup(): void {
  if (buildIsCurrent()) {
    return;
  }
  const build = spawnSync('npm', ['run', 'build:server'], { cwd: projectRoot, encoding: 'utf8' });
  if (build.status !== 0) {
    throw new Error(`npm run build:server failed:\n${build.stdout}${build.stderr}`);
  }
  // An incremental build with nothing to emit may leave the stamp as it was.
  const now = new Date();
  utimesSync(buildStamp, now, now);
}
