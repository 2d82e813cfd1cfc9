/**
 * `tokenbank sim`: one simulated OpenAI-compatible GPU server in the foreground. Prints exactly one
 * line on stdout once it listens (tests and scripts parse the URL from it), logs to stderr, and
 * stops cleanly on SIGTERM or SIGINT.
 */

import { parseArgs } from 'node:util';
import { createJsonLogger } from '../../platform/logger.ts';
import { type ServedSimulator, serveSimulator } from '../../runtime/node/serve-simulator.ts';
import {
  parseSimulatorOptions,
  type SimulatorOptionsInput,
} from '../../simulator/simulator-options.ts';

const usage = `Usage: tokenbank sim --models a,b [options]

Starts a simulated OpenAI-compatible GPU inference server.

Options:
  --models a,b          model ids to serve (required)
  --port N              port to listen on; 0 picks a free one (default 0)
  --host H              interface to listen on (default 127.0.0.1)
  --region R            region label (default local)
  --slots N             sequences generated at once (default 8)
  --prefill-tps N       prompt tokens processed per second (default 2000)
  --decode-tps N        tokens generated per second per sequence (default 40)
  --latency-ms N        extra delay before the first token (default 0)
  --jitter F            scale each delay by a seeded factor in [1-F, 1+F] (default 0.1)
  --seed N              seed for faults and timing jitter (default 1)
  --fault KIND[:SHARE]  inject a fault into SHARE of requests (repeatable); KIND is one of
                        refuse, hang, fast-503, 429, cut, no-usage, slow; SHARE in (0,1], default 1
  --help                show this help
`;

/** Exit status for bad usage, as most command-line tools use it. */
const usageExitCode = 2;

type SimCommandOptions = { hostname: string; port: number; simulator: SimulatorOptionsInput };

class UsageError extends Error {
  override name = 'UsageError';
}

function parseNumberFlag(
  name: string,
  text: string | undefined,
  integer: boolean,
): number | undefined {
  if (text === undefined) {
    return undefined;
  }
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got "${text}"`);
  }
  return value;
}

function parseSimArguments(argv: string[]): SimCommandOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      region: { type: 'string' },
      models: { type: 'string' },
      slots: { type: 'string' },
      'prefill-tps': { type: 'string' },
      'decode-tps': { type: 'string' },
      'latency-ms': { type: 'string' },
      jitter: { type: 'string' },
      seed: { type: 'string' },
      fault: { type: 'string', multiple: true },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    return 'help';
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"`);
  }
  if (values.models === undefined) {
    throw new UsageError(
      '--models is required: a comma-separated list of model ids, e.g. --models a,b',
    );
  }
  const models = values.models.split(',').map((model) => model.trim());
  if (models.some((model) => model === '')) {
    throw new UsageError(`--models must be model ids separated by commas, got "${values.models}"`);
  }
  const port = parseNumberFlag('port', values.port, true) ?? 0;
  if (port < 0 || port > 65_535) {
    throw new UsageError(`--port must be between 0 and 65535, got ${port}`);
  }
  // Flags not given stay undefined, which the options schema replaces with its defaults.
  const simulator: SimulatorOptionsInput = {
    models,
    faults: values.fault ?? [],
    region: values.region,
    slots: parseNumberFlag('slots', values.slots, true),
    prefillTokensPerSecond: parseNumberFlag('prefill-tps', values['prefill-tps'], false),
    decodeTokensPerSecond: parseNumberFlag('decode-tps', values['decode-tps'], false),
    latencyMs: parseNumberFlag('latency-ms', values['latency-ms'], false),
    latencyJitterFraction: parseNumberFlag('jitter', values.jitter, false),
    seed: parseNumberFlag('seed', values.seed, true),
  };
  try {
    // Validated here too so that a bad value is reported as a usage error before anything starts.
    parseSimulatorOptions(simulator);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  return { hostname: values.host ?? '127.0.0.1', port, simulator };
}

/**
 * Resolves with the process exit code: 0 once the simulator has stopped after SIGTERM or SIGINT
 * (or after `--help`), 2 for bad flags, 1 when it cannot listen.
 */
export async function runSimCommand(argv: string[]): Promise<number> {
  let parsed: SimCommandOptions | 'help';
  try {
    parsed = parseSimArguments(argv);
  } catch (error) {
    return failUsage(error);
  }
  if (parsed === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  const logger = createJsonLogger('info', (line) => process.stderr.write(`${line}\n`));
  // Listen for the stop signals before announcing readiness: a caller may send SIGTERM the moment
  // it reads the listening line, and a signal that beats its handler kills the process outright.
  const stopSignal = listenForStopSignal();
  let served: ServedSimulator;
  try {
    served = await serveSimulator({ ...parsed, logger });
  } catch (error) {
    stopSignal.dispose();
    // Options were valid, so this is the environment (a port in use, a host that does not exist).
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      `tokenbank sim: cannot listen on ${parsed.hostname}:${parsed.port}: ${message}\n`,
    );
    return 1;
  }
  const { region, models } = served.simulator.options;
  process.stdout.write(
    `tokenbank sim listening on ${served.url} region=${region} models=${models.join(',')}\n`,
  );
  await stopSignal.received;
  await served.close();
  logger.log('info', 'sim-stopped', { url: served.url });
  return 0;
}

function failUsage(error: unknown): number {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`tokenbank sim: ${message}\nRun "tokenbank sim --help" for usage.\n`);
  return usageExitCode;
}

type StopSignal = { received: Promise<void>; dispose(): void };

function listenForStopSignal(): StopSignal {
  let onSignal = () => {};
  const received = new Promise<void>((resolve) => {
    onSignal = resolve;
  });
  const dispose = () => {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  };
  const stop = () => {
    dispose();
    onSignal();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return { received, dispose };
}
