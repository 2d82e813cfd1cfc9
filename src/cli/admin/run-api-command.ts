/**
 * Runs one `tokenbank admin` or `tokenbank provider` command: reads the command line against the
 * family's command table, sends one request and prints the answer as a table or `key: value`
 * lines (CSV exports verbatim), or verbatim with --json. Exit status: 0 done, 1 the request
 * failed (HTTP error, gateway unreachable) or its answer reports a failure (a ledger check that
 * found problems), 2 usage error. The token is never printed.
 */
import { UsageError } from '../gateway-flags.ts';
import type { ActionInput, AdminAction, AdminResource } from './admin-action.ts';
import { type ApiFailure, createApiClient } from './api-client.ts';
import { resolveConnection } from './api-connection.ts';
import type { CommandFamily } from './command-family.ts';
import { type GlobalFlags, parseAdminArguments } from './parse-admin-arguments.ts';
import { escapeControlCharacters } from './render-table.ts';

/** Every API call is a quick read or write; a gateway that takes longer is not answering. */
const requestTimeoutMs = 30_000;

export const exitCodes = { done: 0, requestFailed: 1, usage: 2 } as const;

/** What the command touches outside itself, passed in so tests can run it without a process. */
export type CommandIo = {
  environment: Readonly<Record<string, string | undefined>>;
  fetch: typeof fetch;
  writeOutput(text: string): void;
  writeError(text: string): void;
};

/** The real process: its environment, stdout and stderr. */
export const processIo: CommandIo = {
  environment: process.env,
  fetch: (input, init) => globalThis.fetch(input, init),
  writeOutput: (text) => process.stdout.write(text),
  writeError: (text) => process.stderr.write(text),
};

export async function runApiCommand(
  family: CommandFamily,
  resources: Readonly<Record<string, AdminResource>>,
  argv: readonly string[],
  io: CommandIo,
): Promise<number> {
  const prefix = `tokenbank ${family.command}`;
  const parsed = parseAdminArguments(argv, resources, family);
  if (parsed.kind === 'help') {
    io.writeOutput(parsed.text);
    return exitCodes.done;
  }
  if (parsed.kind === 'usage-error') {
    io.writeError(`${prefix}: ${parsed.message}\n\n${parsed.help}`);
    return exitCodes.usage;
  }
  const prepared = prepareRequest(family, parsed.action, parsed.input, parsed.global, io);
  if (!prepared.ok) {
    io.writeError(`${prefix}: ${prepared.message}\nRun '${parsed.helpCommand}' for usage.\n`);
    return exitCodes.usage;
  }
  const { connection, request } = prepared;
  const client = createApiClient({ ...connection, timeoutMs: requestTimeoutMs, fetch: io.fetch });
  const response = await client.send(request);
  if (!response.ok) {
    io.writeError(`${describeFailure(response, prefix)}\n`);
    return exitCodes.requestFailed;
  }
  const { action } = parsed;
  io.writeOutput(parsed.global.json ? withNewline(response.text) : action.render(response.body));
  return action.answerFailed?.(response.body) === true ? exitCodes.requestFailed : exitCodes.done;
}

/** Builds the request first, so that a bad flag is reported before a missing token. */
function prepareRequest(
  family: CommandFamily,
  action: AdminAction,
  input: ActionInput,
  global: GlobalFlags,
  io: CommandIo,
) {
  let request: ReturnType<AdminAction['request']>;
  try {
    request = action.request(input);
  } catch (error) {
    if (error instanceof UsageError) {
      return { ok: false as const, message: error.message };
    }
    throw error;
  }
  const resolved = resolveConnection(global, io.environment, family.credential);
  return resolved.ok
    ? { ok: true as const, connection: resolved.connection, request }
    : { ok: false as const, message: resolved.message };
}

/** `error <status> <code>: <message>` as the contract asks, or why the gateway was not reached. */
export function describeFailure(response: ApiFailure, prefix: string): string {
  if (response.kind === 'network') {
    return `${prefix}: ${response.message}`;
  }
  const message = escapeControlCharacters(response.message);
  return `error ${response.status} ${escapeControlCharacters(response.code)}: ${message}`;
}

export function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
