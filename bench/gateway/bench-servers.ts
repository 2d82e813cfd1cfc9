/**
 * Starts the servers a run needs, each as its own process on loopback: the mock upstream, the
 * floor proxy, tokenbank (its replicas) and Portkey, and describes each as a load target. Portkey
 * that cannot be installed or started is recorded as unavailable and the run goes on without it.
 * Everything started is stopped by `stopAll`, last started first.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchPlan, TargetName } from './bench-options.ts';
import { startBenchServices } from './bench-services.ts';
import { type ChildServer, startChildServer } from './child-server.ts';
import type { LoadTarget } from './load-generator.ts';
import { ensurePortkeyInstalled, portkeyVersion } from './portkey-install.ts';
import { progress } from './progress.ts';
import { serverLabels } from './report-context.ts';
import { startTokenbank, type TokenbankDeployment } from './tokenbank-gateway.ts';

export type RunningTarget = {
  name: TargetName;
  load: LoadTarget;
  pids: number[];
  /** Stops its own processes (never the mock's); a second call does nothing. */
  stop: () => Promise<void>;
};

export type BenchServers = {
  /** Part 1 targets that started, in plan order. */
  targets: RunningTarget[];
  /** Why a planned target is missing (Portkey not installable, say). */
  unavailable: Map<TargetName, string>;
  tokenbank: TokenbankDeployment | undefined;
  mockPid: number;
};

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const serverMain = 'bench/gateway/bench-server-main.ts';
const chatPath = '/v1/chat/completions';
/** The model name the mock, the floor and Portkey see; tokenbank serves its own. */
const mockModel = 'bench-model';
const childStartTimeoutMs = 60_000;
const childStopTimeoutMs = 10_000;

const stoppers: (() => Promise<void>)[] = [];

export async function stopAll(): Promise<void> {
  while (stoppers.length > 0) {
    await stoppers.pop()?.();
  }
}

function tracked(server: ChildServer): ChildServer {
  stoppers.push(() => server.stop());
  return server;
}

function plainHeaders(): Record<string, string> {
  return { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no free port')),
      );
    });
  });
}

async function startBenchServer(
  label: string,
  args: string[],
  workDirectory: string,
  urlCount: number,
  environment: Record<string, string> = {},
): Promise<ChildServer> {
  return tracked(
    await startChildServer({
      label,
      nodeArguments: ['--import', 'tsx', serverMain, ...args],
      environment,
      cwd: projectRoot,
      logPath: join(workDirectory, `${label}.log`),
      urlCount,
      startTimeoutMs: childStartTimeoutMs,
      stopTimeoutMs: childStopTimeoutMs,
    }),
  );
}

/** The floor proxy, or with `durable` the durable-ledger floor on a fresh SQLite file. */
async function startFloor(
  name: 'floor' | 'durable',
  mockFastUrl: string,
  workDirectory: string,
): Promise<RunningTarget> {
  const ledgerArguments = name === 'durable' ? ['--db', join(workDirectory, 'durable.db')] : [];
  const floor = await startBenchServer(
    name,
    [name, '--upstream', mockFastUrl, ...ledgerArguments],
    workDirectory,
    1,
  );
  progress(`${serverLabels[name]}: ${floor.urls[0]}`);
  return {
    name,
    pids: [floor.pid],
    stop: floor.stop,
    load: { origins: floor.urls, path: chatPath, model: mockModel, headers: plainHeaders() },
  };
}

/** Portkey as a target, or why it cannot be one. */
async function startPortkey(
  mockFastUrl: string,
  workDirectory: string,
): Promise<RunningTarget | string> {
  progress(`portkey: making sure @portkey-ai/gateway@${portkeyVersion} is installed`);
  const install = await ensurePortkeyInstalled();
  if (!install.ok) {
    return `could not install @portkey-ai/gateway@${portkeyVersion}: ${install.reason}`;
  }
  progress(`portkey: ${install.reused ? 'reusing' : 'installed'} ${install.installDirectory}`);
  try {
    const port = await freePort();
    const server = await startBenchServer(
      'portkey',
      ['portkey', '--entry', install.entryPath, '--port', String(port)],
      workDirectory,
      1,
      { NODE_ENV: 'production' },
    );
    progress(`portkey: ${server.urls[0]}`);
    return {
      name: 'portkey',
      pids: [server.pid],
      stop: server.stop,
      load: {
        origins: server.urls,
        path: chatPath,
        model: mockModel,
        headers: {
          ...plainHeaders(),
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `${mockFastUrl}/v1`,
        },
      },
    };
  } catch (error) {
    return `could not start: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export function tokenbankTarget(deployment: TokenbankDeployment, model: string): RunningTarget {
  return {
    name: 'tokenbank',
    pids: deployment.servers.map((server) => server.pid),
    stop: deployment.stop,
    load: {
      origins: deployment.servers.map((server) => server.urls[0] ?? ''),
      path: chatPath,
      model,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${deployment.apiKey}` },
    },
  };
}

async function startTokenbankReplicas(
  plan: BenchPlan,
  workDirectory: string,
  mockUrls: { fast: string; slow: string },
  cpuProfileDirectory: string | undefined,
): Promise<TokenbankDeployment> {
  const services = await startBenchServices(plan.store);
  stoppers.push(services.stop);
  progress(`tokenbank: starting ${plan.replicaCount} replica(s) on ${plan.store}`);
  const deployment = await startTokenbank({
    replicaCount: plan.replicaCount,
    store: plan.store,
    postgresUrl: services.postgresUrl,
    redisUrl: services.redisUrl,
    workDirectory,
    mockFastUrl: mockUrls.fast,
    mockSlowUrl: mockUrls.slow,
    cpuProfileDirectory,
    heapSnapshotDirectory: plan.heapSnapshotDirectory,
  });
  stoppers.push(deployment.stop);
  progress(`tokenbank: ${deployment.servers.map((server) => server.urls[0]).join(', ')}`);
  return deployment;
}

export async function startBenchServers(
  plan: BenchPlan,
  workDirectory: string,
  cpuProfileDirectory: string | undefined,
): Promise<BenchServers> {
  const mock = await startBenchServer(
    'mock',
    [
      'mock',
      '--slow-interval-ms',
      String(plan.slowChunkIntervalMs),
      '--slow-chunks',
      String(plan.slowChunkCount),
    ],
    workDirectory,
    2,
  );
  const [fast = '', slow = ''] = mock.urls;
  progress(`mock upstream: ${fast} (fast), ${slow} (slow streams)`);
  const servers: BenchServers = {
    targets: [],
    unavailable: new Map(),
    tokenbank: undefined,
    mockPid: mock.pid,
  };
  const nothingToStop = () => Promise.resolve();
  for (const name of plan.targets) {
    if (name === 'direct') {
      servers.targets.push({
        name,
        pids: [mock.pid],
        stop: nothingToStop,
        load: { origins: [fast], path: chatPath, model: mockModel, headers: plainHeaders() },
      });
    } else if (name === 'floor' || name === 'durable') {
      servers.targets.push(await startFloor(name, fast, workDirectory));
    } else if (name === 'tokenbank') {
      servers.tokenbank = await startTokenbankReplicas(
        plan,
        workDirectory,
        { fast, slow },
        cpuProfileDirectory,
      );
      servers.targets.push(tokenbankTarget(servers.tokenbank, servers.tokenbank.model));
    } else {
      const portkey = await startPortkey(fast, workDirectory);
      if (typeof portkey === 'string') {
        servers.unavailable.set('portkey', portkey);
        progress(`portkey: UNAVAILABLE, its column is left out: ${portkey}`);
      } else {
        servers.targets.push(portkey);
      }
    }
  }
  if (plan.memory && servers.tokenbank === undefined) {
    servers.tokenbank = await startTokenbankReplicas(
      plan,
      workDirectory,
      { fast, slow },
      cpuProfileDirectory,
    );
  }
  return servers;
}
