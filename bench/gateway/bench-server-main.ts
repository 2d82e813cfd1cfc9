/**
 * Entry point of every server child the bench starts besides tokenbank, so that each runs in a
 * process of its own and its CPU time is its own:
 *
 *   node --import tsx bench/gateway/bench-server-main.ts mock
 *   node --import tsx bench/gateway/bench-server-main.ts floor --upstream http://127.0.0.1:PORT
 *   node --import tsx bench/gateway/bench-server-main.ts durable --upstream URL --db PATH
 *   node --import tsx bench/gateway/bench-server-main.ts portkey --entry PATH --port PORT
 *
 * Prints one `listening on URL` line per listener once it accepts connections (the parent waits
 * for them), and exits on SIGTERM.
 */
import { connect } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { openDurableLedger } from './durable-ledger-floor.ts';
import { startFloorProxy } from './floor-proxy.ts';
import { startMockUpstream } from './mock-upstream.ts';
import {
  bindUnaddressedServersToLoopback,
  giveStreamedFetchResponsesMutableHeaders,
} from './portkey-patches.ts';

const host = '127.0.0.1';
/** How long Portkey gets to start listening, and how often its port is tried meanwhile. */
const portkeyStartTimeoutMs = 30_000;
const portkeyPollIntervalMs = 50;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    upstream: { type: 'string' },
    entry: { type: 'string' },
    port: { type: 'string' },
    db: { type: 'string' },
    'slow-interval-ms': { type: 'string', default: '150' },
    'slow-chunks': { type: 'string', default: '20' },
  },
});

function announce(url: string): void {
  process.stdout.write(`listening on ${url}\n`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function startPortkey(entryPath: string, port: number): Promise<void> {
  bindUnaddressedServersToLoopback();
  giveStreamedFetchResponsesMutableHeaders();
  // Portkey reads its flags from process.argv when its module is evaluated.
  process.argv = [process.argv[0] ?? 'node', entryPath, `--port=${port}`, '--headless'];
  const loaded = import(pathToFileURL(entryPath).href);
  loaded.catch((error: unknown) => {
    process.stderr.write(`portkey failed to load: ${String(error)}\n`);
    process.exit(1);
  });
  const deadlineMs = Date.now() + portkeyStartTimeoutMs;
  while (Date.now() < deadlineMs) {
    if (await accepts(port)) {
      announce(`http://${host}:${port}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, portkeyPollIntervalMs));
  }
  throw new Error(`portkey did not listen on port ${port} within ${portkeyStartTimeoutMs} ms`);
}

async function main(): Promise<void> {
  process.on('SIGTERM', () => process.exit(0));
  const kind = positionals[0];
  if (kind === 'mock') {
    const mock = await startMockUpstream({
      host,
      slowChunkIntervalMs: Number(values['slow-interval-ms']),
      slowChunkCount: Number(values['slow-chunks']),
    });
    announce(mock.fastUrl);
    announce(mock.slowUrl);
    return;
  }
  if (kind === 'floor' && values.upstream !== undefined) {
    const floor = await startFloorProxy({ host, upstreamUrl: values.upstream });
    announce(floor.url);
    return;
  }
  if (kind === 'durable' && values.upstream !== undefined && values.db !== undefined) {
    const ledger = openDurableLedger(values.db);
    const floor = await startFloorProxy({ host, upstreamUrl: values.upstream, ledger });
    announce(floor.url);
    return;
  }
  if (kind === 'portkey' && values.entry !== undefined && values.port !== undefined) {
    await startPortkey(values.entry, Number(values.port));
    return;
  }
  throw new Error(
    'usage: bench-server-main.ts mock | floor --upstream URL | durable --upstream URL --db PATH | portkey --entry PATH --port N',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
