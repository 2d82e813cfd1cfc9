/**
 * `tokenbank serve`: runs the gateway until SIGINT/SIGTERM, migrating the store on start. Prints
 * the listening URL. A generated admin token is a secret, and stdout is often a log stream that
 * collectors keep: so it is printed only to a terminal, or written to the file named by
 * `--admin-token-file` (mode 0600). With neither, none is generated and the admin API stays
 * closed; the output says how to get one, never the secret.
 */
import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';
import { storeLabelOf } from '../../config.ts';
import type { AdminCredentials } from '../../gateway/admin/admin-credential.ts';
import { startGateway } from '../../runtime/node/start-gateway.ts';
import { parseGatewayFlags, untilStopSignal, withUsageErrors } from '../gateway-flags.ts';

const help = `Usage: tokenbank serve [--port 8787] [--host 127.0.0.1] [--db ./data/tokenbank.db | postgres://...]
                      [--admin-token-file PATH]

Runs the gateway (migrating the store first) until SIGINT or SIGTERM, which finish the requests
in flight and settle them before it exits.

  --port N                 listen port (default 8787, or TOKENBANK_PORT; 0 picks a free port)
  --host H                 listen address (default 127.0.0.1, or TOKENBANK_HOST; 0.0.0.0 for all)
  --db STORE               SQLite path (default ./data/tokenbank.db, or TOKENBANK_DB), or a
                           postgres:// URL shared by several replicas
  --admin-token-file PATH  where a generated admin token is written (mode 0600)

Without TOKENBANK_ADMIN_TOKEN, the first start generates the admin token: it is printed only
when stdout is a terminal, or written to --admin-token-file PATH; with neither, none is made.
Every other setting comes from TOKENBANK_* variables: see tokenbank --help.
`;

const tokenFileFlag = 'admin-token-file';

export function runServeCommand(argv: string[]): Promise<number> {
  return withUsageErrors(help, async () => {
    const {
      config,
      help: wantsHelp,
      commandValues,
    } = parseGatewayFlags(argv, { commandFlags: [tokenFileFlag] });
    if (wantsHelp) {
      process.stdout.write(help);
      return 0;
    }
    const tokenFile = commandValues[tokenFileFlag];
    // Handlers first: a stop asked for while starting must still close the store cleanly.
    const stopRequested = untilStopSignal();
    const gateway = await startGateway(config, {
      mayGenerateAdminToken: tokenFile !== undefined || process.stdout.isTTY === true,
    });
    // The token comes first: whoever waits for the listening line has it by then.
    process.stdout.write(adminTokenNotice(gateway.admin, tokenFile));
    process.stdout.write(
      `tokenbank listening on ${gateway.url} (store ${storeLabelOf(config.database)})\n`,
    );
    const signal = await stopRequested;
    process.stderr.write(`tokenbank: ${signal} received, finishing requests in flight\n`);
    await gateway.close();
    return 0;
  });
}

/** What to tell the operator about the admin token: the secret only where it is safe. */
function adminTokenNotice(admin: AdminCredentials, tokenFile: string | undefined): string {
  const token = admin.generatedToken;
  if (token !== undefined && tokenFile !== undefined) {
    writeSecretFile(tokenFile, `${token}\n`);
    return `admin token generated and written to ${tokenFile} (mode 0600); it is not shown anywhere else\n`;
  }
  if (token !== undefined) {
    return `admin token (shown once, store it now): ${token}\n`;
  }
  if (admin.tokenHashes.length === 0) {
    return 'no admin token yet, so the admin API refuses every request: set TOKENBANK_ADMIN_TOKEN, or start once with --admin-token-file PATH (or from a terminal) to generate one\n';
  }
  return '';
}

/** Created 0600, or made 0600 before anything is written should it exist with a looser mode. */
function writeSecretFile(path: string, text: string): void {
  const descriptor = openSync(path, 'w', 0o600);
  try {
    fchmodSync(descriptor, 0o600);
    writeSync(descriptor, text);
  } finally {
    closeSync(descriptor);
  }
}
