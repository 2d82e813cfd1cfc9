/**
 * `tokenbank provider`: a compute provider's API from the terminal (TOKENBANK_URL,
 * TOKENBANK_PROVIDER_TOKEN or --url/--token). The command table is
 * `cli/provider/provider-resources.ts`; reading, sending and printing are the admin CLI's.
 */
import { providerFamily } from '../admin/command-family.ts';
import { type CommandIo, processIo, runApiCommand } from '../admin/run-api-command.ts';
import { providerResources } from '../provider/provider-resources.ts';

export function runProviderCommand(argv: string[]): Promise<number> {
  return runProvider(argv, processIo);
}

export function runProvider(argv: readonly string[], io: CommandIo): Promise<number> {
  return runApiCommand(providerFamily, providerResources, argv, io);
}
