/**
 * Reads `tokenbank admin <resource> <action> [arguments] [flags]` against the command table. The
 * resource and action are found first (global flags may come anywhere), then the rest is parsed
 * strictly with that action's own flags, so a mistyped flag is a usage error rather than an
 * option silently ignored.
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
import { actionHelp, adminHelp, resourceHelp } from './admin-help.ts';

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
  resourceName: string | undefined;
  actionName: string | undefined;
  rest: string[];
};

/**
 * The first two positionals name the resource and the action. This pass knows only the global
 * flags, so it is lenient; the strict pass over `rest` reports anything unknown.
 */
function locateCommand(argv: readonly string[]): LocatedCommand {
  const { values, tokens } = parseArgs({
    args: [...argv],
    options: globalOptions,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const names = tokens.filter((token) => token.kind === 'positional').slice(0, 2);
  const taken = new Set(names.map((token) => token.index));
  return {
    help: values.help === true,
    resourceName: names[0]?.value,
    actionName: names[1]?.value,
    rest: argv.filter((_, index) => !taken.has(index)),
  };
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
): ParsedAdminArguments {
  const located = locateCommand(argv);
  const topHelp = adminHelp(resources);
  if (located.resourceName === undefined) {
    return located.help
      ? { kind: 'help', text: topHelp }
      : { kind: 'usage-error', message: 'missing resource', help: topHelp };
  }
  const resource = entryOf(resources, located.resourceName);
  if (resource === undefined) {
    const message = `unknown resource "${located.resourceName}"`;
    return { kind: 'usage-error', message, help: topHelp };
  }
  const resourceText = resourceHelp(located.resourceName, resource);
  if (located.actionName === undefined) {
    return located.help
      ? { kind: 'help', text: resourceText }
      : {
          kind: 'usage-error',
          message: `missing action for ${located.resourceName}`,
          help: resourceText,
        };
  }
  const action = entryOf(resource.actions, located.actionName);
  if (action === undefined) {
    const message = `unknown action "${located.actionName}" for ${located.resourceName}`;
    return { kind: 'usage-error', message, help: resourceText };
  }
  const help = actionHelp(located.resourceName, located.actionName, action);
  if (located.help) {
    return { kind: 'help', text: help };
  }
  const parsed = parseAction(action, located.rest);
  if (!parsed.ok) {
    return { kind: 'usage-error', message: parsed.message, help };
  }
  const input = createActionInput(action, parsed.positionals, parsed.values);
  const helpCommand = `tokenbank admin ${located.resourceName} ${located.actionName} --help`;
  return { kind: 'run', action, input, global: globalFlagsOf(parsed.values), helpCommand };
}
