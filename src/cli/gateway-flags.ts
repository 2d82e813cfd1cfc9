/**
 * Flags shared by `serve`, `migrate` and `demo`, turned into a validated Config: flags win over
 * the environment, the environment over defaults.
 */
import { parseArgs } from 'node:util';
import { type Config, type ConfigInput, parseConfig } from '../config.ts';

export class UsageError extends Error {
  override name = 'UsageError';
}

export type GatewayFlags = {
  config: Config;
  help: boolean;
  /** The values of the command's own string flags (`commandFlags`), by name. */
  commandValues: Record<string, string | undefined>;
};

export function parseGatewayFlags(
  argv: string[],
  overrides: ConfigInput = {},
  defaults: ConfigInput = {},
  commandFlags: readonly string[] = [],
): GatewayFlags {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        db: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(commandFlags.map((flag) => [flag, { type: 'string' as const }])),
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const environment = { ...process.env };
  for (const [key, value] of Object.entries(defaults)) {
    const variable = variableOf[key];
    if (variable !== undefined && environment[variable] === undefined && value !== undefined) {
      environment[variable] = String(value);
    }
  }
  const result = parseConfig(environment, {
    port: values.port,
    host: values.host,
    database: values.db,
    ...overrides,
  });
  if (!result.ok) {
    throw new UsageError(result.message);
  }
  const commandValues = Object.fromEntries(
    commandFlags.map((flag) => [flag, stringOrUndefined(values[flag])]),
  );
  return { config: result.config, help: values.help === true, commandValues };
}

function stringOrUndefined(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

const variableOf: Record<string, string> = {
  port: 'TOKENBANK_PORT',
  database: 'TOKENBANK_DB',
};

/** Resolves when the process is asked to stop. */
export function untilStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
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
