/**
 * Vitest global setup of the integration project: the suites spawn the `tokenbank` bin, which
 * runs the compiled build in dist/, and the Worker serves the console from dist/console/, so
 * this makes sure both builds are of the current sources. Each is rebuilt (`npm run
 * build:server`, incremental; `npm run build:console`) when a source file is newer than its last
 * build, so running one suite after an edit tests the edit, and an unchanged tree costs a
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
/** The console's script, written by every console build. */
const consoleStamp = join(projectRoot, 'dist', 'console', 'console.js');

function isSource(name: string): boolean {
  return (name.endsWith('.ts') && !name.endsWith('.test.ts')) || name.endsWith('.css');
}

function newestSourceMs(directory: string): number {
  let newestMs = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      newestMs = Math.max(newestMs, newestSourceMs(path));
    } else if (isSource(entry.name)) {
      newestMs = Math.max(newestMs, statSync(path).mtimeMs);
    }
  }
  return newestMs;
}

/** Runs `npm run <script>` unless `stamp` is newer than every source below `sources`. */
function buildUnlessCurrent(script: string, stamp: string, sources: string): void {
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= newestSourceMs(sources)) {
    return;
  }
  const build = spawnSync('npm', ['run', script], { cwd: projectRoot, encoding: 'utf8' });
  if (build.status !== 0) {
    throw new Error(`npm run ${script} failed:\n${build.stdout}${build.stderr}`);
  }
  // An incremental build with nothing to emit may leave the stamp as it was.
  const now = new Date();
  utimesSync(stamp, now, now);
}

export function setup(): void {
  buildUnlessCurrent('build:server', buildStamp, sourceRoot);
  buildUnlessCurrent('build:console', consoleStamp, join(sourceRoot, 'console'));
}
