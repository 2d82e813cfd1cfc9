/**
 * Brings Portkey's open-source gateway (`@portkey-ai/gateway`, pinned) into a cache folder under
 * the OS temp directory on demand, so the comparison needs nothing from tokenbank's own
 * dependencies. An install already there at the pinned version is reused. Its install scripts are
 * not run: the package's only one applies patches it does not ship. When the registry cannot be
 * reached the caller gets the reason and reports Portkey as unavailable.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const portkeyVersion = '1.15.2';
const packageName = '@portkey-ai/gateway';
const installTimeoutMs = 180_000;
const outputCharsMax = 2_000;

export type PortkeyInstall =
  | { ok: true; entryPath: string; installDirectory: string; reused: boolean }
  | { ok: false; reason: string };

function installDirectoryOf(version: string): string {
  return join(tmpdir(), `tokenbank-bench-portkey-${version}`);
}

function installedVersion(installDirectory: string): string | undefined {
  const manifestPath = join(installDirectory, 'node_modules', packageName, 'package.json');
  try {
    return (JSON.parse(readFileSync(manifestPath, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function runNpmInstall(installDirectory: string, version: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const npm = spawn(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        '--no-package-lock',
        `${packageName}@${version}`,
      ],
      { cwd: installDirectory, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const collect = (text: Buffer) => {
      output = (output + text.toString('utf8')).slice(-outputCharsMax);
    };
    npm.stdout.on('data', collect);
    npm.stderr.on('data', collect);
    const timer = setTimeout(() => npm.kill('SIGKILL'), installTimeoutMs);
    npm.once('error', (error) => {
      clearTimeout(timer);
      resolve(`npm could not start: ${error.message}`);
    });
    npm.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code === 0 ? undefined : `npm install exited (${code ?? signal}): ${output.trim()}`);
    });
  });
}

export async function ensurePortkeyInstalled(
  version: string = portkeyVersion,
): Promise<PortkeyInstall> {
  const installDirectory = installDirectoryOf(version);
  const entryPath = join(installDirectory, 'node_modules', packageName, 'build', 'start-server.js');
  if (installedVersion(installDirectory) === version && existsSync(entryPath)) {
    return { ok: true, entryPath, installDirectory, reused: true };
  }
  mkdirSync(installDirectory, { recursive: true });
  // Its own manifest, so npm installs here and never walks up into another project.
  writeFileSync(
    join(installDirectory, 'package.json'),
    `${JSON.stringify({ name: 'tokenbank-bench-portkey', private: true }, null, 2)}\n`,
  );
  const failure = await runNpmInstall(installDirectory, version);
  if (failure !== undefined) {
    return { ok: false, reason: failure };
  }
  if (installedVersion(installDirectory) !== version || !existsSync(entryPath)) {
    return { ok: false, reason: `npm finished but ${entryPath} at ${version} is missing` };
  }
  return { ok: true, entryPath, installDirectory, reused: false };
}
