/**
 * The --help text of `tokenbank admin` at each level (all resources, one resource, one action),
 * written from the command table so that a new entry documents itself. A resource that runs an
 * action directly (`topup TENANT_ID`) shows that action's arguments where an action name goes.
 */
import type { AdminAction, AdminResource, FlagSpec } from './admin-action.ts';
import { defaultGatewayUrl } from './admin-connection.ts';

const globalFlagLines: ReadonlyArray<readonly [string, string]> = [
  ['--url URL', `gateway address (env TOKENBANK_URL, default ${defaultGatewayUrl})`],
  ['--token T', 'admin token (env TOKENBANK_ADMIN_TOKEN; prefer it: flags show up in ps)'],
  ['--json', 'print the raw JSON answer instead of a table'],
  ['--help, -h', 'show help'],
];

const exitStatusLine = 'Exit status: 0 done, 1 the request failed, 2 usage error.';

/** Two columns, the first padded to its widest entry. */
function aligned(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd()).join('\n');
}

function flagUsage(name: string, spec: FlagSpec): string {
  return spec.kind === 'string' ? `--${name} ${spec.placeholder}` : `--${name}`;
}

/** `tokenbank admin <command> ARGUMENTS --required X [--optional Y]`; the command is one or two words. */
function actionSynopsis(commandName: string, action: AdminAction): string {
  const flags = Object.entries(action.flags ?? {}).map(([name, spec]) =>
    spec.kind === 'string' && spec.required === true
      ? flagUsage(name, spec)
      : `[${flagUsage(name, spec)}]`,
  );
  return ['tokenbank admin', commandName, ...(action.arguments ?? []), ...flags].join(' ');
}

/** What follows a resource's name: its direct action's arguments, then its action names. */
function resourceForms(resource: AdminResource): string[] {
  const direct = resource.direct === undefined ? [] : [(resource.direct.arguments ?? []).join(' ')];
  return [...direct, ...Object.keys(resource.actions)];
}

export function adminHelp(resources: Readonly<Record<string, AdminResource>>): string {
  const rows = Object.entries(resources).map(
    ([name, resource]) =>
      [name, `${resource.summary} (${resourceForms(resource).join(', ')})`] as const,
  );
  return `Usage: tokenbank admin <resource> <action> [arguments] [flags]

The admin API of a tokenbank gateway from the terminal.

Resources:
${aligned(rows)}

Global flags (any level):
${aligned(globalFlagLines)}

Run 'tokenbank admin <resource> --help' for its actions. ${exitStatusLine}
`;
}

export function resourceHelp(resourceName: string, resource: AdminResource): string {
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
    direct === undefined ? '' : `\n       ${actionSynopsis(resourceName, direct)}`;
  return `Usage: tokenbank admin ${resourceName} <action> [arguments] [flags]${directUsage}

${resource.summary}

Actions:
${aligned(rows)}

Run 'tokenbank admin ${resourceName} <action> --help' for its flags; global flags: --url, --token, --json.
`;
}

/** The help of one action; `commandName` is what follows `tokenbank admin` (`coupons grant`, `topup`). */
export function actionHelp(commandName: string, action: AdminAction): string {
  const flagRows = Object.entries(action.flags ?? {}).map(
    ([name, spec]) => [flagUsage(name, spec), spec.description] as const,
  );
  const sections = [
    `Usage: ${actionSynopsis(commandName, action)}`,
    action.summary,
    ...(flagRows.length > 0 ? [`Flags:\n${aligned(flagRows)}`] : []),
    `Global flags:\n${aligned(globalFlagLines)}`,
    ...(action.notes === undefined ? [] : [action.notes]),
    exitStatusLine,
  ];
  return `${sections.join('\n\n')}\n`;
}
