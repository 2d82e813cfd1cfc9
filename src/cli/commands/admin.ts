/**
 * `tokenbank admin`: the admin API from the terminal, as the operator uses it. The command table
 * is `cli/admin/admin-resources.ts`; reading, sending and printing are shared with
 * `tokenbank provider` (`cli/admin/run-api-command.ts`).
 */
import { adminResources } from '../admin/admin-resources.ts';
import { adminFamily } from '../admin/command-family.ts';
import { type CommandIo, processIo, runApiCommand } from '../admin/run-api-command.ts';

export type AdminCommandIo = CommandIo;

export function runAdminCommand(argv: string[]): Promise<number> {
  return runAdmin(argv, processIo);
}

export function runAdmin(argv: readonly string[], io: AdminCommandIo): Promise<number> {
  return runApiCommand(adminFamily, adminResources, argv, io);
}
