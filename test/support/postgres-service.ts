/**
 * The PostgreSQL server of the integration suites. With TOKENBANK_TEST_POSTGRES_URL set, that
 * server is used as it is. Otherwise a private cluster is started from the installed Debian
 * binaries (/usr/lib/postgresql/<version>/bin): a data directory in a temp folder, loopback only,
 * a free port, fsync off (a test cluster need not survive a power cut), stopped and removed at
 * teardown. As root the binaries run as the `postgres` user (the server refuses to run as root);
 * when they are missing and apt-get is at hand, the `postgresql` package is installed first.
 *
 * Each suite then gets its own database (`createTestDatabase`), dropped when it is done.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.ts';

export type PostgresService = {
  /** A URL of the server's `postgres` database, for creating and dropping test databases. */
  adminUrl: string;
  stop(): Promise<void>;
};

export type TestDatabase = {
  url: string;
  name: string;
  drop(): Promise<void>;
};

const binariesRoot = '/usr/lib/postgresql';
/** Enough for three gateway replicas, their leases and the suites' own pools at once. */
const connectionsMax = 300;
const startTimeoutS = 60;

function log(message: string): void {
  process.stderr.write(`[postgres-service] ${message}\n`);
}

/** The bin folder of the newest PostgreSQL installed, if any. */
function findBinaries(): string | undefined {
  if (!existsSync(binariesRoot)) {
    return undefined;
  }
  const versions = readdirSync(binariesRoot)
    .filter((name) => existsSync(join(binariesRoot, name, 'bin', 'initdb')))
    .sort((left, right) => Number(right) - Number(left));
  const newest = versions[0];
  return newest === undefined ? undefined : join(binariesRoot, newest, 'bin');
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function installPostgres(): void {
  if (!isRoot() || !hasCommand('apt-get')) {
    throw new Error(
      'PostgreSQL server binaries are not installed (no /usr/lib/postgresql/*/bin/initdb). ' +
        'Install the `postgresql` package, or set TOKENBANK_TEST_POSTGRES_URL to a server the ' +
        'tests may create and drop databases on.',
    );
  }
  log('PostgreSQL is not installed: apt-get install postgresql (this takes a minute, once)');
  const environment = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'inherit', 'inherit'] });
  execFileSync('apt-get', ['install', '-y', '-qq', 'postgresql'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: environment,
  });
  log('PostgreSQL installed');
}

/** Runs a server binary, as the `postgres` user when we are root. */
function runBinary(binaries: string, name: string, args: string[]): void {
  const command = join(binaries, name);
  const result = isRoot()
    ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8' })
    : spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      `${name} ${args.join(' ')} failed (${result.status}): ${result.stderr}${result.stdout}`,
    );
  }
}

async function startPrivateCluster(): Promise<PostgresService> {
  if (findBinaries() === undefined) {
    installPostgres();
  }
  const binaries = findBinaries();
  if (binaries === undefined) {
    throw new Error('PostgreSQL was installed but no initdb was found under /usr/lib/postgresql');
  }
  const directory = mkdtempSync(join(tmpdir(), 'tokenbank-postgres-'));
  if (isRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(directory, uid, gid);
  }
  const dataDirectory = join(directory, 'data');
  const started = Date.now();
  runBinary(binaries, 'initdb', [
    '--pgdata',
    dataDirectory,
    '--username',
    'postgres',
    '--auth',
    'trust',
    '--encoding',
    'UTF8',
    '--locale',
    'C',
    '--no-sync',
  ]);
  const port = await freePort();
  const serverOptions = [
    `-c listen_addresses=127.0.0.1`,
    `-c port=${port}`,
    `-c unix_socket_directories=${directory}`,
    `-c max_connections=${connectionsMax}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c shared_buffers=128MB',
  ].join(' ');
  runBinary(binaries, 'pg_ctl', [
    '--pgdata',
    dataDirectory,
    '--log',
    join(directory, 'server.log'),
    '--options',
    serverOptions,
    '--wait',
    `--timeout=${startTimeoutS}`,
    'start',
  ]);
  log(`private cluster on 127.0.0.1:${port} (${binaries}), up in ${Date.now() - started} ms`);
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      try {
        runBinary(binaries, 'pg_ctl', ['--pgdata', dataDirectory, '--mode', 'immediate', 'stop']);
      } finally {
        rmSync(directory, { recursive: true, force: true });
      }
    },
  };
}

export async function startPostgresService(): Promise<PostgresService> {
  const configured = process.env.TOKENBANK_TEST_POSTGRES_URL;
  if (configured !== undefined && configured !== '') {
    log('using the server of TOKENBANK_TEST_POSTGRES_URL');
    return { adminUrl: configured, stop: async () => undefined };
  }
  return startPrivateCluster();
}

/**
 * A pool of a suite whose connections may be cut when the suite's database is dropped at its
 * end (DROP ... WITH (FORCE)), without an unhandled 'error' event; a query on a cut connection
 * still fails loudly. Pipelined, as the gateway's pool is (postgres-database.ts), so a ledger
 * opened on it sends its batches the way it does in production.
 */
export function quietPool(url: string, connectionsMax: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: connectionsMax, pipeline: true });
  pool.on('error', () => undefined);
  return pool;
}

/** `url` with its database name replaced. */
export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function onAdminConnection<Result>(
  adminUrl: string,
  body: (client: pg.Client) => Promise<Result>,
): Promise<Result> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database `tb_<random>` on the service; `drop()` removes it, connections and all. */
export async function createTestDatabase(adminUrl: string): Promise<TestDatabase> {
  const name = `tb_${randomBytes(6).toString('hex')}`;
  await onAdminConnection(adminUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  return {
    url: withDatabase(adminUrl, name),
    name,
    drop: async () => {
      await onAdminConnection(adminUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
      );
    },
  };
}
