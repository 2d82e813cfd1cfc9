/**
 * Reads `tokenbank admin|provider <resource> <action> [arguments] [flags]` against a family's
 * command table. The
 * resource and action are found first (global flags may come anywhere; a resource that runs an
 * action directly takes the word after it as an argument), then the rest is parsed strictly with
 * that action's own flags, so a mistyped flag is a usage error rather than an option silently
 * ignored.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { assert } from '../../assert.ts';
import {
  type ActionInput,
  type AdminAction,
  type AdminResource,
  createActionInput,
  type FlagValues,
} from './admin-action.ts';
import { actionHelp, familyHelp, resourceHelp } from './admin-help.ts';
import { adminFamily, type CommandFamily } from './command-family.ts';

export type GlobalFlags = { url: string | undefined; token: string | undefined; json: boolean };

export type ParsedAdminArguments =
  | { kind: 'help'; text: string }
  | { kind: 'usage-error'; message: string; help: string }
  | {
      kind: 'run';
      action: AdminAction;
      input: ActionInput;
      global: GlobalFlags;
      /** The command that shows this action's help, for messages about a flag's value. */
      helpCommand: string;
    };

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

const globalOptions = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionsConfig;

type LocatedCommand = {
  help: boolean;
  /** The first two positionals: the resource and, unless the resource runs one directly, the action. */
  names: ReadonlyArray<{ value: string; index: number }>;
  argv: readonly string[];
};

/**
 * The first two positionals name the resource and the action. This pass knows only the global
 * flags, so it is lenient; the strict pass over the rest reports anything unknown.
 */
function locateCommand(argv: readonly string[]): LocatedCommand {
  const { values, tokens } = parseArgs({
    args: [...argv],
    options: globalOptions,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const names = tokens
    .filter((token) => token.kind === 'positional')
    .slice(0, 2)
    .map((token) => ({ value: token.value, index: token.index }));
  return { help: values.help === true, names, argv };
}

/** The command line without its first `count` names, for the strict pass. */
function restAfterNames(located: LocatedCommand, count: number): string[] {
  const taken = new Set(located.names.slice(0, count).map((name) => name.index));
  return located.argv.filter((_, index) => !taken.has(index));
}

function entryOf<Entry>(table: Readonly<Record<string, Entry>>, name: string): Entry | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

function optionsOf(action: AdminAction): OptionsConfig {
  const options: OptionsConfig = { ...globalOptions };
  for (const [name, spec] of Object.entries(action.flags ?? {})) {
    assert(!Object.hasOwn(globalOptions, name), `--${name} is a global flag`);
    options[name] = { type: spec.kind };
  }
  return options;
}

/** The strict pass: the action's flags and exactly its positional arguments. */
function parseAction(
  action: AdminAction,
  rest: string[],
): { ok: true; positionals: string[]; values: FlagValues } | { ok: false; message: string } {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      options: optionsOf(action),
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    // parseArgs follows its first sentence with advice about '--' that is noise here.
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, message: message.split(/\.\s/)[0] ?? message };
  }
  const expected = action.arguments ?? [];
  const missing = expected.slice(parsed.positionals.length);
  if (missing.length > 0) {
    return { ok: false, message: `missing ${missing.join(' ')}` };
  }
  const absentFlag = Object.entries(action.flags ?? {}).find(
    ([name, spec]) =>
      spec.kind === 'string' && spec.required === true && parsed.values[name] === undefined,
  );
  if (absentFlag !== undefined) {
    return { ok: false, message: `--${absentFlag[0]} is required` };
  }
  const extra = parsed.positionals[expected.length];
  if (extra !== undefined) {
    return { ok: false, message: `unexpected argument "${extra}"` };
  }
  const values: Record<string, string | boolean> = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    if (typeof value === 'string' || typeof value === 'boolean') {
      values[name] = value;
    }
  }
  return { ok: true, positionals: parsed.positionals, values };
}

function globalFlagsOf(values: FlagValues): GlobalFlags {
  const url = values.url;
  const token = values.token;
  return {
    url: typeof url === 'string' ? url : undefined,
    token: typeof token === 'string' ? token : undefined,
    json: values.json === true,
  };
}

export function parseAdminArguments(
  argv: readonly string[],
  resources: Readonly<Record<string, AdminResource>>,
  family: CommandFamily = adminFamily,
): ParsedAdminArguments {
  const located = locateCommand(argv);
  const topHelp = familyHelp(family, resources);
  const resourceName = located.names[0]?.value;
  if (resourceName === undefined) {
    return located.help
      ? { kind: 'help', text: topHelp }
      : { kind: 'usage-error', message: 'missing resource', help: topHelp };
  }
  const resource = entryOf(resources, resourceName);
  if (resource === undefined) {
    const message = `unknown resource "${resourceName}"`;
    return { kind: 'usage-error', message, help: topHelp };
  }
  const actionName = located.names[1]?.value;
  const named = actionName === undefined ? undefined : entryOf(resource.actions, actionName);
  if (named !== undefined) {
    return parseCommand(family, located, named, `${resourceName} ${actionName}`, 2);
  }
  const hasActions = Object.keys(resource.actions).length > 0;
  if (resource.direct !== undefined && (actionName !== undefined || !hasActions)) {
    return parseCommand(family, located, resource.direct, resourceName, 1);
  }
  return missingAction(family, located.help, resourceName, resource, actionName);
}

/** No action named, or an unknown one: the resource's help, asked for or with the complaint. */
function missingAction(
  family: CommandFamily,
  help: boolean,
  resourceName: string,
  resource: AdminResource,
  actionName: string | undefined,
): ParsedAdminArguments {
  const text = resourceHelp(family, resourceName, resource);
  if (actionName !== undefined) {
    const message = `unknown action "${actionName}" for ${resourceName}`;
    return { kind: 'usage-error', message, help: text };
  }
  if (help) {
    return { kind: 'help', text };
  }
  const direct = resource.direct?.arguments ?? [];
  const wanted = direct.length > 0 ? `${direct.join(' ')} or action` : 'action';
  return { kind: 'usage-error', message: `missing ${wanted} for ${resourceName}`, help: text };
}

/** One action found: its help, or its flags and arguments read strictly. */
function parseCommand(
  family: CommandFamily,
  located: LocatedCommand,
  action: AdminAction,
  commandName: string,
  namesTaken: number,
): ParsedAdminArguments {
  const help = actionHelp(family, commandName, action);
  if (located.help) {
    return { kind: 'help', text: help };
  }
  const parsed = parseAction(action, restAfterNames(located, namesTaken));
  if (!parsed.ok) {
    return { kind: 'usage-error', message: parsed.message, help };
  }
  const input = createActionInput(action, parsed.positionals, parsed.values);
  const helpCommand = `tokenbank ${family.command} ${commandName} --help`;
  return { kind: 'run', action, input, global: globalFlagsOf(parsed.values), helpCommand };
}
