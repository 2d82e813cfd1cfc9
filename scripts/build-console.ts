/**
 * Builds the web console's client (src/console/, browser TypeScript and its style sheet) into
 * dist/console/ with esbuild: one script and one style sheet that the gateway serves from the
 * package (GET /console/assets/*), nothing fetched from a CDN at run time. `npm run build:console`
 * runs it; the browser tests call buildConsole() so they always drive the current source.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

export async function buildConsole(): Promise<void> {
  await build({
    absWorkingDir: root,
    entryPoints: ['src/console/console.ts', 'src/console/console.css'],
    outdir: 'dist/console',
    bundle: true,
    minify: true,
    format: 'esm',
    // Browsers of the last few years, phones included.
    target: ['es2022', 'chrome100', 'safari15', 'firefox100'],
    logLevel: 'warning',
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildConsole();
}
