/**
 * The `tokenbank` command as an operator runs it: help, migrate, serve writing the admin token
 * once to its file, and the demo whose printed curl line and OpenAI SDK snippet must work as printed.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { projectRoot, runCliCommand, startCliProcess } from './support/cli-process.ts';
import { startGatewayProcess } from './support/spawn-gateway.ts';

const run = promisify(execFile);

function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'tokenbank-cli-'));
}

const tokenbank = runCliCommand;

describe('tokenbank command', () => {
  it('prints its usage with --help and refuses an unknown command', async () => {
    const help = await tokenbank(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('tokenbank serve');
    expect(help.stdout).toContain('tokenbank demo');
    const unknown = await tokenbank(['launch']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'launch'");
  });

  it('migrates a new store and says where', async () => {
    const databasePath = join(temporaryDirectory(), 'store.db');
    const migrated = await tokenbank(['migrate', '--db', databasePath]);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toBe(`migrations applied to ${databasePath}\n`);
  });

  it('refuses an invalid setting with a message naming the variable', async () => {
    const refused = await tokenbank(['serve', '--port', '0'], { TOKENBANK_ADMIN_TOKEN: 'short' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('TOKENBANK_ADMIN_TOKEN');
  });

  it('generates the admin token on the first start only and keeps accepting it', async () => {
    const environment = { TOKENBANK_ADMIN_TOKEN: '' };
    const tokenFile = join(temporaryDirectory(), 'admin-token');
    const args = ['--admin-token-file', tokenFile];
    const first = await startGatewayProcess({ environment, args });
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^tba-[a-z0-9]+$/);
    expect(first.stdout()).not.toContain(token);
    const listTenants = (url: string, bearer: string) =>
      fetch(`${url}/admin/v1/tenants`, { headers: { authorization: `Bearer ${bearer}` } });
    expect((await listTenants(first.url, token)).status).toBe(200);
    await first.stop();

    rmSync(tokenFile);
    const second = await startGatewayProcess({
      databasePath: first.databasePath,
      environment,
      args,
    });
    expect(second.stdout()).not.toContain('admin token');
    expect(existsSync(tokenFile)).toBe(false);
    expect((await listTenants(second.url, token)).status).toBe(200);
    expect((await listTenants(second.url, `tba-${'0'.repeat(40)}`)).status).toBe(401);
    await second.stop();
  });
});

describe('tokenbank demo', () => {
  it('prints a curl line and an OpenAI SDK snippet that work as printed', async () => {
    const directory = temporaryDirectory();
    // Inside the project so that `import 'openai'` resolves, exactly as a user's app would.
    const scriptPath = join(projectRoot, 'data', `demo-snippet-${process.pid}.mjs`);
    const demo = await startCliProcess({
      args: ['demo', '--port', '0', '--db', join(directory, 'demo.db')],
      listeningPattern: /tokenbank demo is running: (http:\/\/\S+)/,
    });
    try {
      const printed = demo.stdout();
      const curlLine = /^ {2}(curl .+)$/m.exec(printed)?.[1];
      expect(curlLine).toBeDefined();
      const curl = await run('sh', ['-c', curlLine ?? 'false']);
      const completion = JSON.parse(curl.stdout) as { choices: { message: { content: string } }[] };
      expect(completion.choices[0]?.message.content.trim().split(/\s+/)).toHaveLength(16);

      const snippet = /Or with the OpenAI SDK[^\n]*\n((?: {2}.*\n)+)/.exec(printed)?.[1];
      expect(snippet).toBeDefined();
      mkdirSync(join(projectRoot, 'data'), { recursive: true });
      writeFileSync(scriptPath, (snippet ?? '').replace(/^ {2}/gm, ''));
      const output = await run(process.execPath, [scriptPath], { cwd: projectRoot });
      expect(output.stdout.trim().split(/\s+/)).toHaveLength(24);
    } finally {
      rmSync(scriptPath, { force: true });
      await demo.stop();
    }
  });
});
