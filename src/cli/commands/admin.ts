/**
 * `tokenbank admin`: the admin API from the terminal. Reads the command line against the command
 * table (`cli/admin/admin-resources.ts`), sends one request and prints the answer as a table or
 * `key: value` lines (CSV exports verbatim), or verbatim with --json. Exit status: 0 done, 1 the
 * request failed (HTTP error, gateway unreachable) or its answer reports a failure (a ledger check
 * that found problems), 2 usage error. The admin token is never printed.
 */
import type { ActionInput, AdminAction } from '../admin/admin-action.ts';
import { type AdminResponse, createAdminClient } from '../admin/admin-client.ts';
import { resolveConnection } from '../admin/admin-connection.ts';
import { adminResources } from '../admin/admin-resources.ts';
import { type GlobalFlags, parseAdminArguments } from '../admin/parse-admin-arguments.ts';
import { escapeControlCharacters } from '../admin/render-table.ts';
import { UsageError } from '../gateway-flags.ts';

/** Every admin call is a quick read or write; a gateway that takes longer is not answering. */
const requestTimeoutMs = 30_000;

export const exitCodes = { done: 0, requestFailed: 1, usage: 2 } as const;

/** What the command touches outside itself, passed in so tests can run it without a process. */
export type AdminCommandIo = {
  environment: Readonly<Record<string, string | undefined>>;
  fetch: typeof fetch;
  writeOutput(text: string): void;
  writeError(text: string): void;
};

export function runAdminCommand(argv: string[]): Promise<number> {
  return runAdmin(argv, {
    environment: process.env,
    fetch: globalThis.fetch,
    writeOutput: (text) => process.stdout.write(text),
    writeError: (text) => process.stderr.write(text),
  });
}

export async function runAdmin(argv: readonly string[], io: AdminCommandIo): Promise<number> {
  const parsed = parseAdminArguments(argv, adminResources);
  if (parsed.kind === 'help') {
    io.writeOutput(parsed.text);
    return exitCodes.done;
  }
  if (parsed.kind === 'usage-error') {
    io.writeError(`tokenbank admin: ${parsed.message}\n\n${parsed.help}`);
    return exitCodes.usage;
  }
  const prepared = prepareRequest(parsed.action, parsed.input, parsed.global, io.environment);
  if (!prepared.ok) {
    io.writeError(`tokenbank admin: ${prepared.message}\nRun '${parsed.helpCommand}' for usage.\n`);
    return exitCodes.usage;
  }
  const { connection, request } = prepared;
  const client = createAdminClient({ ...connection, timeoutMs: requestTimeoutMs, fetch: io.fetch });
  const response = await client.send(request);
  if (!response.ok) {
    io.writeError(`${describeFailure(response)}\n`);
    return exitCodes.requestFailed;
  }
  const { action } = parsed;
  io.writeOutput(parsed.global.json ? withNewline(response.text) : action.render(response.body));
  return action.answerFailed?.(response.body) === true ? exitCodes.requestFailed : exitCodes.done;
}

/** Builds the request first, so that a bad flag is reported before a missing token. */
function prepareRequest(
  action: AdminAction,
  input: ActionInput,
  global: GlobalFlags,
  environment: AdminCommandIo['environment'],
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
  const resolved = resolveConnection(global, environment);
  return resolved.ok
    ? { ok: true as const, connection: resolved.connection, request }
    : { ok: false as const, message: resolved.message };
}

/** `error <status> <code>: <message>` as the contract asks, or why the gateway was not reached. */
export function describeFailure(response: Exclude<AdminResponse, { ok: true }>): string {
  if (response.kind === 'network') {
    return `tokenbank admin: ${response.message}`;
  }
  const message = escapeControlCharacters(response.message);
  return `error ${response.status} ${escapeControlCharacters(response.code)}: ${message}`;
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
