/**
 * The `tokenbank` command as an operator runs it: help, migrate, serve writing the admin token
 * once to its file, and the demo whose printed curl line and OpenAI SDK snippet must work as printed.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildConsole } from '../scripts/build-console.ts';
import { projectRoot, runCliCommand, startCliProcess } from './support/cli-process.ts';
import { pollUntil } from './support/poll-until.ts';
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
    expect(help.stdout).toMatch(/^ {2}TOKENBANK_LIMITS +JSON object/m);
    expect(help.stdout).toContain('run it from the repository root');
    // Each command's own help shows its defaults.
    const defaults: [string[], string[]][] = [
      [
        ['serve', '--help'],
        ['default 8787', 'default 127.0.0.1', 'default ./data/tokenbank.db'],
      ],
      [
        ['demo', '--help'],
        ['default 8787', 'a fresh store in a new temporary folder', '--reset'],
      ],
      [['migrate', '--help'], ['./data/tokenbank.db']],
      [
        ['sim', '--help'],
        ['(default 0)', '(default 8)', '(default 40)'],
      ],
      [
        ['admin', '--help'],
        ['default http://127.0.0.1:8787', 'env TOKENBANK_ADMIN_TOKEN'],
      ],
      [
        ['provider', '--help'],
        ['default http://127.0.0.1:8787', 'env TOKENBANK_PROVIDER_TOKEN'],
      ],
    ];
    for (const [args, expected] of defaults) {
      const shown = await tokenbank(args);
      expect(shown.code, args.join(' ')).toBe(0);
      for (const text of expected) {
        expect(shown.stdout, args.join(' ')).toContain(text);
      }
    }
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

  it('runs the compiled build, and without one says to build rather than failing on an import', async () => {
    // A copy of the bin with no dist/ beside it: an installation whose build never ran.
    const installation = temporaryDirectory();
    mkdirSync(join(installation, 'bin'));
    const bin = join(installation, 'bin', 'tokenbank.mjs');
    writeFileSync(bin, readFileSync(join(projectRoot, 'bin', 'tokenbank.mjs')));
    type Ran = { code: number; stdout: string; stderr: string };
    const unbuilt = await run(process.execPath, [bin, '--help']).then(
      ({ stdout, stderr }): Ran => ({ code: 0, stdout, stderr }),
      (error: Ran) => error,
    );
    expect(unbuilt.code).toBe(1);
    expect(unbuilt.stdout).toBe('');
    expect(unbuilt.stderr).toContain(`${join(installation, 'dist', 'cli', 'main.js')} is missing`);
    expect(unbuilt.stderr).toContain('Run `npm run build`');
    // The real bin loads dist/, never the TypeScript sources.
    expect(readFileSync(join(projectRoot, 'bin', 'tokenbank.mjs'), 'utf8')).not.toContain('tsx');
    expect(existsSync(join(projectRoot, 'dist', 'cli', 'main.js'))).toBe(true);
  });

  it('counts long texts on the tokenizer worker of the build, which loads without tsx', async () => {
    const workerTokenizer = join(projectRoot, 'dist', 'runtime', 'node', 'worker-tokenizer.js');
    const script = `
      const { createWorkerTokenizer } = await import(${JSON.stringify(workerTokenizer)});
      const failures = [];
      const tokenizer = createWorkerTokenizer({
        encodingDefault: 'cl100k_base', modelEncodings: {}, queueLengthMax: 8, inlineCharsMax: 0,
        logger: { log: (...entry) => failures.push(entry) },
      });
      const tokens = await tokenizer.countTokens('hello world '.repeat(100), 'any-model');
      process.stdout.write(JSON.stringify({ tokens, failures }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    // tiktoken's count: 'hello', ' world' twice per repeat and the last space; the byte
    // estimate the tokenizer falls back to when its worker fails would be far off it.
    expect(JSON.parse(stdout)).toEqual({ tokens: 201, failures: [] });
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

/** The stop hint the demo prints: its own process id. */
function demoProcessId(printed: string): number {
  const found = /^Stop it with Ctrl-C, or: kill (\d+)$/m.exec(printed)?.[1];
  expect(found).toBeDefined();
  return Number(found);
}

/** The demo's own temporary folder (its log, and its store unless --db named one). */
function removeDemoFolder(printed: string): void {
  const log = /^Request log \(JSON\): +(\S+)$/m.exec(printed)?.[1];
  if (log !== undefined && dirname(log).startsWith(join(tmpdir(), 'tokenbank-demo-'))) {
    rmSync(dirname(log), { recursive: true, force: true });
  }
}

function isRunning(processId: number): boolean {
  try {
    process.kill(processId, 0);
    return true;
  } catch {
    return false;
  }
}

describe('tokenbank demo', () => {
  it('runs on a fresh store in a temporary folder and prints a curl line and an SDK snippet that work as printed', async () => {
    // Inside the project so that `import 'openai'` resolves, exactly as a user's app would.
    const scriptPath = join(projectRoot, 'data', `demo-snippet-${process.pid}.mjs`);
    await buildConsole();
    const demo = await startCliProcess({
      args: ['demo', '--port', '0'],
      listeningPattern: /tokenbank demo is running: (http:\/\/\S+)/,
    });
    try {
      const printed = demo.stdout();
      const store = /^Store \(SQLite\): +(\S+)$/m.exec(printed)?.[1] ?? '';
      const log = /^Request log \(JSON\): +(\S+)$/m.exec(printed)?.[1] ?? '';
      expect(store).toBe(join(dirname(log), 'demo.db'));
      expect(dirname(store).startsWith(join(tmpdir(), 'tokenbank-demo-'))).toBe(true);
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

      // The request log went to its file, not between the instructions.
      await pollUntil(
        () => readFileSync(log, 'utf8').includes('"path":"/v1/chat/completions"'),
        'the chat request in the demo log',
      );
      expect(printed).not.toContain('"event"');
      expect(demo.stderr()).not.toContain('"event"');

      // The console it prints answers, and the three credentials it names sign in to it.
      const consoleUrl = /^Web console: +(\S+)$/m.exec(printed)?.[1] ?? '';
      expect(consoleUrl).toBe(`${demo.url}/console`);
      const shell = await fetch(consoleUrl);
      expect(shell.status).toBe(200);
      expect(await shell.text()).toContain('/console/assets/console.js');
      const credential = (label: string) =>
        new RegExp(`^${label}: +(\\S+)$`, 'm').exec(printed)?.[1] ?? '';
      for (const [label, path] of [
        ['API key \\(demo tenant\\)', '/v1/account'],
        ['Admin token', '/admin/v1/tenants'],
        ['Provider token', '/provider/v1/backends'],
      ] as const) {
        const answer = await fetch(`${demo.url}${path}`, {
          headers: { authorization: `Bearer ${credential(label)}` },
        });
        expect(answer.status, label).toBe(200);
      }
    } finally {
      rmSync(scriptPath, { force: true });
      await demo.stop();
      removeDemoFolder(demo.stdout());
    }
  });

  it('refuses a store made by tokenbank migrate and leaves it intact; --reset starts over on it', async () => {
    const databasePath = join(temporaryDirectory(), 'tokenbank.db');
    expect((await tokenbank(['migrate', '--db', databasePath])).code).toBe(0);
    const before = readFileSync(databasePath);
    const refused = await tokenbank(['demo', '--port', '0', '--db', databasePath]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('is a tokenbank store the demo did not create');
    expect(refused.stdout).not.toContain('tokenbank demo is running');
    expect(readFileSync(databasePath).equals(before)).toBe(true);

    const demo = await startCliProcess({
      args: ['demo', '--port', '0', '--db', databasePath, '--reset'],
      listeningPattern: /tokenbank demo is running: (http:\/\/\S+)/,
    });
    await demo.stop();
    removeDemoFolder(demo.stdout());
    expect(demo.stderr()).toContain(`--reset: deleted the tokenbank store ${databasePath}`);
    // Its own store now: the next start needs no --reset.
    const again = await startCliProcess({
      args: ['demo', '--port', '0', '--db', databasePath],
      listeningPattern: /tokenbank demo is running: (http:\/\/\S+)/,
    });
    await again.stop();
    removeDemoFolder(again.stdout());
    expect(again.stderr()).toContain(`starting over on its own store ${databasePath}`);
  });

  it('never deletes a text file named by --db, even with --reset', async () => {
    const path = join(temporaryDirectory(), 'notes.db');
    const text = 'not a database: my notes\n';
    writeFileSync(path, text);
    for (const flags of [[], ['--reset']]) {
      const refused = await tokenbank(['demo', '--port', '0', '--db', path, ...flags]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`${path} is not a SQLite database; it is left untouched`);
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
  });

  it('stops when the npm run that started it is stopped', async () => {
    const wrapper = spawn('npm', ['run', '--silent', 'demo', '--', '--port', '0'], {
      cwd: projectRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let printed = '';
    wrapper.stdout?.setEncoding('utf8');
    wrapper.stdout?.on('data', (text: string) => {
      printed += text;
    });
    try {
      await pollUntil(() => printed.includes('\nStop it with'), 'the demo running', 30_000);
      const demoId = demoProcessId(printed);
      expect(demoId).not.toBe(wrapper.pid);
      // The wrapper alone, as a process manager or a closed terminal tab would stop it.
      wrapper.kill('SIGTERM');
      await pollUntil(() => !isRunning(demoId), 'the demo to stop with its wrapper', 15_000);
    } finally {
      try {
        process.kill(-(wrapper.pid ?? 0), 'SIGKILL');
      } catch {
        // The whole group is gone already.
      }
      removeDemoFolder(printed);
    }
  });
});
