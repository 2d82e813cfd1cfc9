/**
 * `tokenbank demo`: a working computing-power bank on one machine. It starts three simulated GPU
 * backends in two regions and the gateway on a SQLite store of its own (a fresh one in a new
 * temporary folder unless --db names one: see demo/demo-store.ts for what it may delete),
 * registers the backends through the provider API and a demo tenant through the admin API (the
 * same calls an operator makes), then prints the web console's address with the credentials that
 * sign in to it, an API key, a curl line and an OpenAI SDK snippet that work as printed. The request log goes to a file in its temporary folder, warnings also to
 * the terminal. Its storage tick is a minute (serve's is an hour), so stored files are seen being
 * charged within a session.
 */
import { closeSync, mkdtempSync, openSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { storeKindOf } from '../../config.ts';
import { newSecret } from '../../platform/identifiers.ts';
import { type ServedSimulator, serveSimulator } from '../../runtime/node/serve-simulator.ts';
import { startGateway } from '../../runtime/node/start-gateway.ts';
import { demoInstructions } from '../demo/demo-instructions.ts';
import { demoBackends, seedDemo } from '../demo/demo-seed.ts';
import { DemoStoreRefused, prepareDemoStore } from '../demo/demo-store.ts';
import {
  parseGatewayFlags,
  UsageError,
  untilStopSignal,
  withUsageErrors,
} from '../gateway-flags.ts';

const help = `Usage: tokenbank demo [--port 8787] [--host 127.0.0.1] [--db PATH] [--reset]

Starts the gateway with three simulated GPU backends in two regions and a demo tenant, all on
this machine, and prints the web console's address (/console) with the credentials that sign
in to it, an API key, a curl line and an OpenAI SDK snippet.

  --port N    listen port (default 8787, or TOKENBANK_PORT; 0 picks a free port)
  --host H    listen address (default 127.0.0.1, or TOKENBANK_HOST)
  --db PATH   the demo's SQLite store (default: a fresh store in a new temporary folder;
              TOKENBANK_DB is not read). A store the demo created is started over; any other
              existing file is refused and left untouched.
  --reset     start over on a tokenbank store the demo did not create (made by serve or
              migrate): it is deleted. Files that are not tokenbank SQLite stores are never
              deleted.

Stored files are charged once per storage tick: 60 s in the demo, so that a session sees it
(TOKENBANK_STORAGE_TICK_S sets another; serve's default is an hour). The demo looks for an
ended tick to charge every 5 s.

The JSON request log goes to demo.log in the demo's temporary folder (its path is printed);
warnings also appear here. Stop it with Ctrl-C or kill PID (printed); stopping the npm run /
npx that started it stops it too.
`;

/** The simulators decode at this rate: fast enough to feel live, slow enough to watch stream. */
const decodeTokensPerSecond = 60;

/** The demo's storage tick: a minute, so a session sees stored files charged (serve: an hour). */
const demoStorageTickS = 60;

/** How often the demo looks for an ended tick to charge: a tick is charged seconds after it ends. */
const demoStorageCheckIntervalMs = 5_000;

function progress(message: string): void {
  process.stderr.write(`demo: ${message}\n`);
}

/** Log lines to the file; warnings and errors to the terminal too. */
function logWriterFor(logPath: string) {
  const descriptor = openSync(logPath, 'wx');
  return {
    write(text: string) {
      writeSync(descriptor, text);
      const loud = text
        .split('\n')
        .filter((line) => line.includes('"level":"warn"') || line.includes('"level":"error"'));
      if (loud.length > 0) {
        process.stderr.write(`${loud.join('\n')}\n`);
      }
    },
    close: () => closeSync(descriptor),
  };
}

async function startSimulators(): Promise<ServedSimulator[]> {
  const simulators: ServedSimulator[] = [];
  for (const [index, spec] of demoBackends.entries()) {
    const simulator = await serveSimulator({
      simulator: {
        models: [...spec.models],
        region: spec.region,
        slots: spec.slots,
        decodeTokensPerSecond,
        seed: index + 1,
      },
    });
    simulators.push(simulator);
    progress(
      `started simulated GPU backend ${index + 1}/${demoBackends.length} at ${simulator.url}`,
    );
  }
  return simulators;
}

/** The store the demo runs on, made ready (or refused) before anything starts. */
function demoStorePath(databaseFlag: string | undefined, folder: string, reset: boolean): string {
  if (databaseFlag !== undefined && storeKindOf(databaseFlag) === 'postgres') {
    throw new UsageError('demo: the demo runs on a SQLite file only; --db must be a file path');
  }
  const path = resolve(databaseFlag ?? join(folder, 'demo.db'));
  try {
    const outcome = prepareDemoStore(path, { reset, nowMs: Date.now() });
    progress(
      {
        created: `new store ${path}`,
        recreated: `starting over on its own store ${path}`,
        reset: `--reset: deleted the tokenbank store ${path} and started over`,
      }[outcome],
    );
  } catch (error) {
    if (error instanceof DemoStoreRefused) {
      throw new UsageError(error.message);
    }
    throw error;
  }
  return path;
}

export function runDemoCommand(argv: string[]): Promise<number> {
  return withUsageErrors(help, async () => {
    const adminToken = newSecret('tba');
    const parsed = parseGatewayFlags(argv, {
      overrides: { adminToken, allowPrivateBackends: true, autoApproveBackends: true },
      defaults: { storageTickS: demoStorageTickS },
      switches: ['reset'],
    });
    if (parsed.help) {
      process.stdout.write(help);
      return 0;
    }
    const folder = mkdtempSync(join(tmpdir(), 'tokenbank-demo-'));
    let databasePath: string;
    try {
      databasePath = demoStorePath(parsed.databaseFlag, folder, parsed.switches.has('reset'));
    } catch (error) {
      // The folder is the demo's own and still empty: nothing else is removed.
      rmdirSync(folder);
      throw error;
    }
    const config = {
      ...parsed.config,
      database: databasePath,
      limits: { ...parsed.config.limits, storageCheckIntervalMs: demoStorageCheckIntervalMs },
    };
    // Handlers first: a stop asked for while starting must still close everything cleanly.
    const stopRequested = untilStopSignal({ watchParent: true });
    const logPath = join(folder, 'demo.log');
    const log = logWriterFor(logPath);
    const simulators = await startSimulators();
    const gateway = await startGateway(config, { writeLog: log.write });
    progress(`gateway listening on ${gateway.url}`);
    const { apiKey, providerToken } = await seedDemo({
      baseUrl: gateway.url,
      adminToken,
      simulators,
      progress,
    });
    process.stdout.write(
      demoInstructions({
        baseUrl: gateway.url,
        apiKey,
        adminToken,
        providerToken,
        databasePath,
        logPath,
        processId: process.pid,
        storageTickS: config.storageTickS,
      }),
    );
    const reason = await stopRequested;
    progress(`stopping (${reason})`);
    await gateway.close();
    await Promise.all(simulators.map((simulator) => simulator.close()));
    log.close();
    return 0;
  });
}
