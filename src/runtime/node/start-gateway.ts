/**
 * The Node composition root: opens and migrates the store, builds Deps once, serves the app with
 * @hono/node-server, probes unhealthy backends on an interval, and shuts down in order (stop
 * accepting, let requests finish up to a deadline, close upstream pools, close the store).
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from '../../app.ts';
import { BackendPool } from '../../backends/backend-pool.ts';
import { createLeastInFlightRouter } from '../../backends/least-in-flight-router.ts';
import { probeUnhealthyBackends } from '../../backends/probe-backends.ts';
import type { Config } from '../../config.ts';
import { createSqliteCatalog } from '../../db/sqlite-catalog.ts';
import type { Deps } from '../../deps.ts';
import { ensureAdminCredential } from '../../gateway/admin-credential.ts';
import { CredentialCache } from '../../gateway/credential-cache.ts';
import { systemClock } from '../../platform/clock.ts';
import { createJsonLogger } from '../../platform/logger.ts';
import { createSeededRandom } from '../../platform/random.ts';
import { readNodeRequestBody, resolveHostWithDns, sha256Hex } from './node-ports.ts';
import { migrateSqlite, openSqlite } from './sqlite-database.ts';
import { createUndiciUpstream } from './undici-upstream.ts';

export type RunningGateway = {
  url: string;
  port: number;
  deps: Deps;
  /** The admin token, only on the start that generated it. */
  generatedAdminToken: string | undefined;
  close(): Promise<void>;
};

export async function startGateway(config: Config): Promise<RunningGateway> {
  if (config.database.startsWith('postgres')) {
    throw new Error('PostgreSQL is not supported by this build yet; use a SQLite path.');
  }
  const opened = openSqlite(config.database);
  migrateSqlite(opened);
  const clock = systemClock;
  const catalog = createSqliteCatalog(opened.database);
  const admin = await ensureAdminCredential({
    catalog,
    hashText: sha256Hex,
    clock,
    configuredToken: config.adminToken,
  });
  const pool = new BackendPool(config.limits.backendFailureCountMax);
  for (const backend of await catalog.listLiveBackends()) {
    pool.upsert(backend);
  }
  const cacheOptions = {
    ttlMs: config.limits.credentialCacheTtlMs,
    entriesMax: config.limits.credentialCacheEntriesMax,
    clock,
  };
  const upstream = createUndiciUpstream(config.limits);
  const random = createSeededRandom(Date.now());
  const deps: Deps = {
    config,
    catalog,
    pool,
    router: createLeastInFlightRouter(random),
    upstream,
    clock,
    logger: createJsonLogger(config.logLevel, (line) => process.stderr.write(`${line}\n`)),
    random,
    hashText: sha256Hex,
    resolveHost: resolveHostWithDns,
    readRequestBody: readNodeRequestBody,
    clients: new CredentialCache(cacheOptions),
    providers: new CredentialCache(cacheOptions),
    adminTokenHashes: admin.tokenHashes,
  };
  const app = createApp(deps);
  const server = await listen(app.fetch, config);
  const port = (server.address() as AddressInfo).port;
  const probeTimer = setInterval(() => {
    void probeUnhealthyBackends(pool, upstream, config.limits.healthProbeTimeoutMs);
  }, config.limits.healthProbeIntervalMs);
  probeTimer.unref();

  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    deps,
    generatedAdminToken: admin.generatedToken,
    async close() {
      clearInterval(probeTimer);
      await closeServer(server, config.limits.shutdownGraceMs);
      await upstream.close();
      opened.close();
    },
  };
}

type NodeServer = ReturnType<typeof serve>;

function listen(fetch: Parameters<typeof serve>[0]['fetch'], config: Config): Promise<NodeServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname: config.host, port: config.port }, () =>
      resolve(server),
    );
    server.once('error', reject);
  });
}

/** Stops accepting at once; requests in flight get `graceMs` to finish before they are cut. */
function closeServer(server: NodeServer, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = setTimeout(() => {
      if ('closeAllConnections' in server) {
        server.closeAllConnections();
      }
    }, graceMs);
    deadline.unref();
    server.close(() => {
      clearTimeout(deadline);
      resolve();
    });
    if ('closeIdleConnections' in server) {
      server.closeIdleConnections();
    }
  });
}
