/**
 * A private `redis-server` per test file, on a free loopback port, with no persistence (`--save ''
 * --appendonly no`): tests share nothing with any other Redis and leave nothing on disk. It can be
 * stopped and started again on the same port (the Redis-down tests), and dies with the test run.
 * The binary is Debian's redis-server package; when it is missing and we are root with apt-get,
 * it is installed first (as .ci/run does), else the test fails saying how to install it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { terminate } from './child-process-exit.ts';
import { freePort } from './free-port.ts';

export type RedisServerProcess = {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL); its data is gone. Resolves once it exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty; resolves once it answers PING. */
  start(): Promise<void>;
};

const readyTimeoutMs = 10_000;
const stopTimeoutMs = 5_000;
const liveServers = new Set<ChildProcess>();

process.once('exit', () => {
  for (const server of liveServers) {
    server.kill('SIGKILL');
  }
});

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Installs Debian's redis-server when it is missing and this process may; else explains. */
export function ensureRedisServerBinary(): void {
  if (hasRedisServer()) {
    return;
  }
  const root = process.getuid?.() === 0;
  if (!root || !existsSync('/usr/bin/apt-get')) {
    throw new Error(
      'redis-server is not installed: run `apt-get install -y redis-server` (Debian) or put a ' +
        'redis-server binary on PATH to run the Redis tests.',
    );
  }
  process.stdout.write('redis-server is missing: installing it with apt-get...\n');
  const options = {
    stdio: 'inherit' as const,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  };
  let installed = spawnSync('apt-get', ['install', '-y', '-q', 'redis-server'], options);
  if (installed.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], options);
    installed = spawnSync('apt-get', ['install', '-y', '-q', 'redis-server'], options);
  }
  if (installed.status !== 0 || !hasRedisServer()) {
    throw new Error('redis-server could not be installed with apt-get; see its output above.');
  }
}

/** True when a server on the port answers PING with PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) {
        done(reply.startsWith('+PONG'));
      }
    });
  });
}

export async function startRedisServer(): Promise<RedisServerProcess> {
  ensureRedisServerBinary();
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 'tokenbank-redis-'));
  let child: ChildProcess | undefined;
  let output = '';

  async function start(): Promise<void> {
    if (child !== undefined) {
      throw new Error('redis-server is already running');
    }
    const started = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        directory,
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    liveServers.add(started);
    started.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    started.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    const deadline = Date.now() + readyTimeoutMs;
    while (!(await answersPing(port))) {
      if (started.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`redis-server on port ${port} did not start:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function stop(): Promise<void> {
    const running = child;
    if (running === undefined) {
      return;
    }
    child = undefined;
    await terminate(running, stopTimeoutMs);
    liveServers.delete(running);
  }

  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}
