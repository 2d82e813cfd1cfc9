/**
 * Starts `tokenbank serve` as a real process on an ephemeral port and a fresh SQLite file, for
 * integration tests that need the gateway exactly as an operator runs it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliProcess, startCliProcess } from './cli-process.ts';

export type GatewayProcess = CliProcess & { databasePath: string };

export type StartGatewayOptions = {
  adminToken?: string;
  /**
   * Reuse a store, e.g. to restart after a crash, or share one between replicas: a SQLite path
   * or a postgres:// URL. A fresh SQLite file by default.
   */
  databasePath?: string;
  environment?: Record<string, string>;
  /** More `serve` flags, e.g. `['--admin-token-file', path]`. */
  args?: string[];
};

export async function startGatewayProcess(
  options: StartGatewayOptions = {},
): Promise<GatewayProcess> {
  const databasePath =
    options.databasePath ?? join(mkdtempSync(join(tmpdir(), 'tokenbank-test-')), 'gateway.db');
  // Tests register backends and route to them at once, unless one says otherwise.
  const environment: Record<string, string> = {
    TOKENBANK_LOG_LEVEL: 'warn',
    TOKENBANK_AUTO_APPROVE_BACKENDS: '1',
    ...options.environment,
  };
  if (options.adminToken !== undefined) {
    environment.TOKENBANK_ADMIN_TOKEN = options.adminToken;
  }
  const started = await startCliProcess({
    args: ['serve', '--port', '0', '--db', databasePath, ...(options.args ?? [])],
    listeningPattern: /tokenbank listening on (http:\/\/\S+)/,
    environment,
  });
  return { ...started, databasePath };
}
