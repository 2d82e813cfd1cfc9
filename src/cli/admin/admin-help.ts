/**
 * The --help text of `tokenbank admin` and `tokenbank provider` at each level (all resources, one
 * resource, one action), written from the command table so that a new entry documents itself. A
 * resource that runs an action directly (`topup TENANT_ID`) shows that action's arguments where
 * an action name goes. `tokenbank batch` writes its commands' help with the same pieces.
 */
import type { AdminAction, AdminResource, FlagSpec } from './admin-action.ts';
import { defaultGatewayUrl } from './api-connection.ts';
import type { CommandFamily } from './command-family.ts';

export function globalFlagLines(family: CommandFamily): ReadonlyArray<readonly [string, string]> {
  const { flag, placeholder, label, variable } = family.credential;
  return [
    ['--url URL', `gateway address (env TOKENBANK_URL, default ${defaultGatewayUrl})`],
    [`--${flag} ${placeholder}`, `${label} (env ${variable}; prefer it: flags show up in ps)`],
    ['--json', 'print the raw JSON answer instead of a table'],
    ['--help, -h', 'show help'],
  ];
}

const exitStatusLine = 'Exit status: 0 done, 1 the request failed, 2 usage error.';

/** What the help of one command shows: an action of the table, or a batch command. */
export type CommandDescription = Pick<AdminAction, 'summary' | 'arguments' | 'flags' | 'notes'>;

/** Two columns, the first padded to its widest entry. */
export function aligned(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd()).join('\n');
}

function flagUsage(name: string, spec: FlagSpec): string {
  return spec.kind === 'string' ? `--${name} ${spec.placeholder}` : `--${name}`;
}

/** `tokenbank admin <command> ARGUMENTS --required X [--optional Y]`; the command is one or two words. */
function actionSynopsis(
  family: CommandFamily,
  commandName: string,
  action: CommandDescription,
): string {
  const flags = Object.entries(action.flags ?? {}).map(([name, spec]) =>
    spec.kind === 'string' && spec.required === true
      ? flagUsage(name, spec)
      : `[${flagUsage(name, spec)}]`,
  );
  return [`tokenbank ${family.command}`, commandName, ...(action.arguments ?? []), ...flags].join(
    ' ',
  );
}

/** What follows a resource's name: its direct action's arguments, then its action names. */
function resourceForms(resource: AdminResource): string[] {
  const direct = resource.direct === undefined ? [] : [(resource.direct.arguments ?? []).join(' ')];
  return [...direct, ...Object.keys(resource.actions)];
}

export function familyHelp(
  family: CommandFamily,
  resources: Readonly<Record<string, AdminResource>>,
): string {
  const rows = Object.entries(resources).map(
    ([name, resource]) =>
      [name, `${resource.summary} (${resourceForms(resource).join(', ')})`] as const,
  );
  return `Usage: tokenbank ${family.command} <resource> <action> [arguments] [flags]

${family.summary}

Resources:
${aligned(rows)}

Global flags (any level):
${aligned(globalFlagLines(family))}

Run 'tokenbank ${family.command} <resource> --help' for its actions. ${exitStatusLine}
`;
}

export function resourceHelp(
  family: CommandFamily,
  resourceName: string,
  resource: AdminResource,
): string {
  const { direct } = resource;
  const directRows =
    direct === undefined ? [] : [[(direct.arguments ?? []).join(' '), direct.summary] as const];
  const rows = [
    ...directRows,
    ...Object.entries(resource.actions).map(
      ([name, action]) => [[name, ...(action.arguments ?? [])].join(' '), action.summary] as const,
    ),
  ];
  const directUsage =
    direct === undefined ? '' : `\n       ${actionSynopsis(family, resourceName, direct)}`;
  return `Usage: tokenbank ${family.command} ${resourceName} <action> [arguments] [flags]${directUsage}

${resource.summary}

Actions:
${aligned(rows)}

Run 'tokenbank ${family.command} ${resourceName} <action> --help' for its flags; global flags: --url, --token, --json.
`;
}

/** The help of one action; `commandName` is what follows `tokenbank admin` (`coupons grant`, `topup`). */
export function actionHelp(
  family: CommandFamily,
  commandName: string,
  action: CommandDescription,
): string {
  const flagRows = Object.entries(action.flags ?? {}).map(
    ([name, spec]) => [flagUsage(name, spec), spec.description] as const,
  );
  const sections = [
    `Usage: ${actionSynopsis(family, commandName, action)}`,
    action.summary,
    ...(flagRows.length > 0 ? [`Flags:\n${aligned(flagRows)}`] : []),
    `Global flags:\n${aligned(globalFlagLines(family))}`,
    ...(action.notes === undefined ? [] : [action.notes]),
    family.exitStatus ?? exitStatusLine,
  ];
  return `${sections.join('\n\n')}\n`;
}
