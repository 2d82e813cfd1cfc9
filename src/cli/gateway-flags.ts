/**
 * Flags shared by `serve`, `migrate` and `demo`, turned into a validated Config: flags win over
 * the environment, the environment over defaults. Also how a long-running command learns it
 * should stop.
 */
import { parseArgs } from 'node:util';
import { type Config, type ConfigInput, parseConfig } from '../config.ts';

export class UsageError extends Error {
  override name = 'UsageError';
}

export type GatewayFlags = {
  config: Config;
  help: boolean;
  /** `--db` as given, if it was: the demo uses it alone, never TOKENBANK_DB. */
  databaseFlag: string | undefined;
  /** The command's own boolean flags (`--reset`) that were given. */
  switches: ReadonlySet<string>;
  /** The values of the command's own string flags (`--admin-token-file`), by name. */
  commandValues: Record<string, string | undefined>;
};

export type GatewayFlagOptions = {
  /** Settings the command fixes whatever the flags and environment say. */
  overrides?: ConfigInput;
  /** Defaults of this command that differ from the gateway's (used when no variable is set). */
  defaults?: ConfigInput;
  /** Boolean flags of this command beyond the shared ones. */
  switches?: readonly string[];
  /** String flags of this command beyond the shared ones. */
  commandFlags?: readonly string[];
};

type FlagValues = Record<string, string | boolean | undefined>;

function readFlags(
  argv: string[],
  switches: readonly string[],
  commandFlags: readonly string[],
): FlagValues {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        db: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(switches.map((name) => [name, { type: 'boolean' as const }])),
        ...Object.fromEntries(commandFlags.map((name) => [name, { type: 'string' as const }])),
      },
    });
    return values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function stringFlag(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function parseGatewayFlags(argv: string[], options: GatewayFlagOptions = {}): GatewayFlags {
  const switches = options.switches ?? [];
  const commandFlags = options.commandFlags ?? [];
  const values = readFlags(argv, switches, commandFlags);
  const environment = { ...process.env };
  for (const [key, value] of Object.entries(options.defaults ?? {})) {
    const variable = variableOf[key];
    if (variable !== undefined && environment[variable] === undefined && value !== undefined) {
      environment[variable] = String(value);
    }
  }
  const result = parseConfig(environment, {
    port: stringFlag(values, 'port'),
    host: stringFlag(values, 'host'),
    database: stringFlag(values, 'db'),
    ...options.overrides,
  });
  if (!result.ok) {
    throw new UsageError(result.message);
  }
  return {
    config: result.config,
    help: values.help === true,
    databaseFlag: stringFlag(values, 'db'),
    switches: new Set(switches.filter((name) => values[name] === true)),
    commandValues: Object.fromEntries(commandFlags.map((name) => [name, stringFlag(values, name)])),
  };
}

const variableOf: Record<string, string> = {
  port: 'TOKENBANK_PORT',
  database: 'TOKENBANK_DB',
  storageTickS: 'TOKENBANK_STORAGE_TICK_S',
};

const stopSignals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Why a long-running command stops: a signal, or the process that started it is gone. */
export type StopReason = NodeJS.Signals | 'parent exited';

/** How often a command started through a wrapper (`npm run`, `npx`) checks that it is still there. */
const parentCheckIntervalMs = 500;

/**
 * Resolves when the process is asked to stop: SIGINT (Ctrl-C), SIGTERM, SIGHUP (the terminal
 * closed) or, with `watchParent`, when the process that started it exits. `npm run` and `npx`
 * do not always pass a signal on to their child: without the watch, stopping the wrapper would
 * leave this process running on its own.
 */
export function untilStopSignal(options: { watchParent?: boolean } = {}): Promise<StopReason> {
  return new Promise((resolve) => {
    const parentId = process.ppid;
    const parentCheck = options.watchParent
      ? setInterval(() => {
          if (process.ppid !== parentId) {
            stop('parent exited');
          }
        }, parentCheckIntervalMs).unref()
      : undefined;
    const stop = (reason: StopReason) => {
      for (const signal of stopSignals) {
        process.off(signal, stop);
      }
      clearInterval(parentCheck);
      resolve(reason);
    };
    for (const signal of stopSignals) {
      process.on(signal, stop);
    }
  });
}

/** Runs a command body, turning usage errors into a message and exit code 2. */
export async function withUsageErrors(help: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${help}`);
      return 2;
    }
    throw error;
  }
}
