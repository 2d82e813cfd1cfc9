/**
 * `tokenbank serve`: runs the gateway until SIGINT/SIGTERM, migrating the store on start. Prints
 * the listening URL, and the admin token on the first start that generated it.
 */
import { storeLabelOf } from '../../config.ts';
import { startGateway } from '../../runtime/node/start-gateway.ts';
import { parseGatewayFlags, untilStopSignal, withUsageErrors } from '../gateway-flags.ts';

const help = `Usage: tokenbank serve [--port 8787] [--host 127.0.0.1] [--db ./data/tokenbank.db | postgres://...]

Runs the gateway (migrating the store first) until SIGINT or SIGTERM, which finish the requests
in flight and settle them before it exits.

  --port N    listen port (default 8787, or TOKENBANK_PORT; 0 picks a free port)
  --host H    listen address (default 127.0.0.1, or TOKENBANK_HOST; 0.0.0.0 for all)
  --db STORE  SQLite path (default ./data/tokenbank.db, or TOKENBANK_DB), or a postgres:// URL
              shared by several replicas

On the first start without TOKENBANK_ADMIN_TOKEN it generates an admin token and prints it
once on stdout. Every other setting comes from TOKENBANK_* variables: see tokenbank --help.
`;

export function runServeCommand(argv: string[]): Promise<number> {
  return withUsageErrors(help, async () => {
    const { config, help: wantsHelp } = parseGatewayFlags(argv);
    if (wantsHelp) {
      process.stdout.write(help);
      return 0;
    }
    // Handlers first: a stop asked for while starting must still close the store cleanly.
    const stopRequested = untilStopSignal();
    const gateway = await startGateway(config);
    // The token comes first: whoever waits for the listening line has it by then.
    if (gateway.generatedAdminToken !== undefined) {
      process.stdout.write(
        `admin token (shown once, store it now): ${gateway.generatedAdminToken}\n`,
      );
    }
    process.stdout.write(
      `tokenbank listening on ${gateway.url} (store ${storeLabelOf(config.database)})\n`,
    );
    const signal = await stopRequested;
    process.stderr.write(`tokenbank: ${signal} received, finishing requests in flight\n`);
    await gateway.close();
    return 0;
  });
}
