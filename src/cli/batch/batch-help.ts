/**
 * `tokenbank batch --help`: the commands with their arguments, written from the command table
 * (each command's own help is the admin CLI's `actionHelp` over the same table).
 */
import { aligned, globalFlagLines } from '../admin/admin-help.ts';
import { batchFamily } from '../admin/command-family.ts';
import { batchCommands } from './batch-commands.ts';

export function batchHelp(): string {
  const rows = Object.entries(batchCommands).map(
    ([name, command]) => [[name, ...(command.arguments ?? [])].join(' '), command.summary] as const,
  );
  return `Usage: tokenbank batch <command> [arguments] [flags]

${batchFamily.summary}

Commands:
${aligned(rows)}

Global flags (any command):
${aligned(globalFlagLines(batchFamily))}

Run 'tokenbank batch <command> --help' for its flags.
${batchFamily.exitStatus}
`;
}
