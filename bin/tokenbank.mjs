#!/usr/bin/env node
// The `tokenbank` command. It runs the compiled JavaScript in dist/ (`npm run build`, which
// `npm ci` runs as the prepare script), so no TypeScript compiler loads at run time.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  const projectRoot = fileURLToPath(new URL('..', import.meta.url));
  process.stderr.write(
    `tokenbank: ${fileURLToPath(entry)} is missing: the build has not run.\n` +
      `Run \`npm run build\` in ${projectRoot} (\`npm ci\` runs it too).\n`,
  );
  process.exit(1);
}
const { runCli } = await import(entry.href);
process.exitCode = await runCli(process.argv.slice(2));
