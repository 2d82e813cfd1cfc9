#!/usr/bin/env node
// The `tokenbank` command. tsx loads the TypeScript sources directly, so the bin works right
// after `npm install` without a build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
