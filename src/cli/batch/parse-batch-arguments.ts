/**
 * Reads `tokenbank batch <command> [arguments] [flags]` into a BatchCommand. The command is found
 * first (global flags may come anywhere), then the rest is parsed strictly with that command's
 * flags, so a mistyped flag is a usage error rather than an option silently ignored; values are
 * checked here (an endpoint the contract does not offer, a bad interval) so that nothing is
 * uploaded for a command that cannot succeed.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { actionHelp } from '../admin/admin-help.ts';
import { batchFamily } from '../admin/command-family.ts';
import type { GlobalFlags } from '../admin/parse-admin-arguments.ts';
import { UsageError } from '../gateway-flags.ts';
import {
  type BatchCommand,
  type BatchCommandName,
  type BatchEndpoint,
  batchCommands,
  batchEndpoints,
  intervalSecondsDefault,
  intervalSecondsRange,
  isBatchCommandName,
  type WaitOptions,
  waitTimeoutSecondsDefault,
  waitTimeoutSecondsMax,
} from './batch-commands.ts';
import { batchHelp } from './batch-help.ts';

export type ParsedBatchArguments =
  | { kind: 'help'; text: string }
  | { kind: 'usage-error'; message: string; help: string }
  | {
      kind: 'run';
      command: BatchCommand;
      /** `token` holds the API key (--key): it is the bearer credential, as for the other families. */
      global: GlobalFlags;
      /** The command that shows this command's help, for messages about a flag's value. */
      helpCommand: string;
    };

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** parseArgs' values: a repeatable flag's is a list. */
type Values = Readonly<Record<string, string | boolean | Array<string | boolean> | undefined>>;

/** What a command's reader gets: its positional arguments and its flags' values. */
type Parsed = { positionals: readonly string[]; values: Values };

const globalOptions = {
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionsConfig;

export function parseBatchArguments(argv: readonly string[]): ParsedBatchArguments {
  const located = locateCommand(argv);
  if (located.name === undefined) {
    return located.help
      ? { kind: 'help', text: batchHelp() }
      : { kind: 'usage-error', message: 'missing command', help: batchHelp() };
  }
  if (!isBatchCommandName(located.name)) {
    return { kind: 'usage-error', message: `unknown command "${located.name}"`, help: batchHelp() };
  }
  const name = located.name;
  const help = actionHelp(batchFamily, name, batchCommands[name]);
  if (located.help) {
    return { kind: 'help', text: help };
  }
  try {
    const parsed = parseStrictly(name, located.rest);
    return {
      kind: 'run',
      command: readers[name](parsed),
      global: globalFlagsOf(parsed.values),
      helpCommand: `tokenbank batch ${name} --help`,
    };
  } catch (error) {
    if (error instanceof UsageError) {
      return { kind: 'usage-error', message: error.message, help };
    }
    throw error;
  }
}

/** The first positional names the command; this pass knows only the global flags. */
function locateCommand(argv: readonly string[]): {
  name: string | undefined;
  help: boolean;
  rest: string[];
} {
  const { values, tokens } = parseArgs({
    args: [...argv],
    options: globalOptions,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const first = tokens.find((token) => token.kind === 'positional');
  return {
    name: first?.value,
    help: values.help === true,
    rest: argv.filter((_, index) => index !== first?.index),
  };
}

function parseStrictly(name: BatchCommandName, rest: string[]): Parsed {
  const description = batchCommands[name];
  const options: OptionsConfig = { ...globalOptions };
  for (const [flag, spec] of Object.entries(description.flags ?? {})) {
    options[flag] = { type: spec.kind, multiple: spec.repeatable === true };
  }
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options, strict: true, allowPositionals: true });
  } catch (error) {
    // parseArgs follows its first sentence with advice about '--' that is noise here.
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message.split(/\.\s/)[0] ?? message);
  }
  const expected = description.arguments ?? [];
  const missing = expected.slice(parsed.positionals.length);
  if (missing.length > 0) {
    throw new UsageError(`missing ${missing.join(' ')}`);
  }
  const extra = parsed.positionals[expected.length];
  if (extra !== undefined) {
    throw new UsageError(`unexpected argument "${extra}"`);
  }
  for (const [flag, spec] of Object.entries(description.flags ?? {})) {
    if (spec.kind === 'string' && spec.required === true && parsed.values[flag] === undefined) {
      throw new UsageError(`--${flag} is required`);
    }
  }
  return parsed;
}

function globalFlagsOf(values: Values): GlobalFlags {
  return { url: text(values, 'url'), token: text(values, 'key'), json: values.json === true };
}

const readers: { [Name in BatchCommandName]: (parsed: Parsed) => BatchCommand } = {
  submit: ({ positionals, values }) => ({
    kind: 'submit',
    file: positionals[0] ?? '',
    endpoint: readEndpoint(text(values, 'endpoint')),
    completionWindow: text(values, 'completion-window') ?? '24h',
    metadata: readMetadata(values.metadata),
    wait: readWait(values),
  }),
  status: ({ positionals, values }) => ({
    kind: 'status',
    batchId: positionals[0] ?? '',
    wait: readWait(values),
  }),
  results: ({ positionals, values }) => readResults(positionals[0] ?? '', values),
  list: ({ values }) => ({
    kind: 'list',
    limit: wholeNumber(values, 'limit'),
    after: text(values, 'after'),
  }),
  cancel: ({ positionals }) => ({ kind: 'cancel', batchId: positionals[0] ?? '' }),
};

function text(values: Values, flag: string): string | undefined {
  const value = values[flag];
  return typeof value === 'string' ? value : undefined;
}

function readEndpoint(value: string | undefined): BatchEndpoint {
  const endpoint = batchEndpoints.find((each) => each === value);
  if (endpoint === undefined) {
    throw new UsageError(`--endpoint must be one of ${batchEndpoints.join(', ')}, got "${value}"`);
  }
  return endpoint;
}

/** `KEY=VALUE` pairs; the value may itself hold `=`. The gateway checks counts and lengths. */
export function readMetadata(pairs: Values[string]): Record<string, string> | undefined {
  if (!Array.isArray(pairs) || pairs.length === 0) {
    return undefined;
  }
  const metadata: Record<string, string> = {};
  for (const pair of pairs.map(String)) {
    const separator = pair.indexOf('=');
    if (separator <= 0) {
      throw new UsageError(`--metadata takes KEY=VALUE, got "${pair}"`);
    }
    const key = pair.slice(0, separator);
    if (Object.hasOwn(metadata, key)) {
      throw new UsageError(`--metadata gives "${key}" twice`);
    }
    metadata[key] = pair.slice(separator + 1);
  }
  return metadata;
}

/** --wait with its interval and bound; either of those without --wait is a mistake worth saying. */
export function readWait(values: Values): WaitOptions | undefined {
  const intervalText = text(values, 'interval-s');
  const timeoutText = text(values, 'timeout-s');
  if (values.wait !== true) {
    if (intervalText !== undefined || timeoutText !== undefined) {
      throw new UsageError('--interval-s and --timeout-s go with --wait');
    }
    return undefined;
  }
  const intervalSeconds =
    intervalText === undefined ? intervalSecondsDefault : Number(intervalText);
  if (
    intervalText !== undefined &&
    (!/^\d+(\.\d+)?$/.test(intervalText) ||
      intervalSeconds < intervalSecondsRange.min ||
      intervalSeconds > intervalSecondsRange.max)
  ) {
    throw new UsageError(
      `--interval-s must be ${intervalSecondsRange.min} to ${intervalSecondsRange.max} seconds, got "${intervalText}"`,
    );
  }
  const timeoutSeconds = wholeNumber(values, 'timeout-s') ?? waitTimeoutSecondsDefault;
  if (timeoutSeconds < 1 || timeoutSeconds > waitTimeoutSecondsMax) {
    throw new UsageError(
      `--timeout-s must be 1 to ${waitTimeoutSecondsMax} seconds, got "${timeoutText}"`,
    );
  }
  return { intervalMs: Math.round(intervalSeconds * 1000), timeoutMs: timeoutSeconds * 1000 };
}

function readResults(batchId: string, values: Values): BatchCommand {
  const outputPath = text(values, 'output');
  const errorsPath = text(values, 'errors');
  if (outputPath !== undefined && outputPath === errorsPath) {
    throw new UsageError('--output and --errors must be different files');
  }
  if (values.json === true && (outputPath === undefined || errorsPath === undefined)) {
    throw new UsageError(
      'with --json the summary goes to stdout: write the lines to files with --output and --errors',
    );
  }
  return { kind: 'results', batchId, outputPath, errorsPath };
}

function wholeNumber(values: Values, flag: string): number | undefined {
  const value = text(values, flag);
  if (value === undefined) {
    return undefined;
  }
  if (!/^\d{1,15}$/.test(value)) {
    throw new UsageError(`--${flag} must be a whole number, got "${value}"`);
  }
  return Number(value);
}
