/**
 * The Node composition root: opens and migrates the store, builds Deps once, serves the app with
 * @hono/node-server, runs the background jobs on intervals, and shuts down in order (stop
 * accepting, let requests finish up to a deadline, settle what they left, close the store).
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from '../../app.ts';
import type { Config } from '../../config.ts';
import { createSqliteCatalog } from '../../db/sqlite-catalog.ts';
import type { Deps } from '../../deps.ts';
import { ensureAdminCredential } from '../../gateway/admin-credential.ts';
import { type BackgroundJobs, createBackgroundJobs } from '../../gateway/background-jobs.ts';
import { systemClock } from '../../platform/clock.ts';
import { createJsonLogger } from '../../platform/logger.ts';
import { createSeededRandom } from '../../platform/random.ts';
import { createNodeDeps } from './node-deps.ts';
import { sha256Hex } from './node-ports.ts';
import { migrateSqlite, openSqlite } from './sqlite-database.ts';

export type RunningGateway = {
  url: string;
  port: number;
  deps: Deps;
  jobs: BackgroundJobs;
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
  const admin = await ensureAdminCredential({
    catalog: createSqliteCatalog(opened.database),
    hashText: sha256Hex,
    clock: systemClock,
    configuredToken: config.adminToken,
  });
  const deps = createNodeDeps({
    config,
    opened,
    clock: systemClock,
    random: createSeededRandom(Date.now()),
    logger: createJsonLogger(config.logLevel, (line) => process.stderr.write(`${line}\n`)),
    adminTokenHashes: admin.tokenHashes,
    processMetrics: true,
  });
  for (const backend of await deps.catalog.listLiveBackends()) {
    deps.pool.upsert(backend);
  }
  await deps.catalogCache.reload();
  const jobs = createBackgroundJobs(deps);
  // Before serving: claim this instance, then settle what a previous crash left behind.
  await jobs.heartbeat();
  await jobs.sweep();
  await jobs.expireCoupons();
  const stopJobs = scheduleJobs(deps, jobs);
  const server = await listen(createApp(deps).fetch, config);
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    deps,
    jobs,
    generatedAdminToken: admin.generatedToken,
    async close() {
      // New requests are refused from here on, also on connections kept alive.
      deps.gate.stop();
      await closeServer(server, config.limits.shutdownGraceMs);
      // Requests cut at the deadline still settle what they delivered; then their settlements.
      const settleMs = config.limits.shutdownSettleMs;
      const settled =
        (await withinMs(deps.gate.idle(), settleMs)) &&
        (await withinMs(deps.background.drain(), settleMs));
      if (!settled) {
        deps.logger.log('error', 'shutdown_left_work', {
          requests_in_flight: deps.gate.inFlightCount,
          background_work_pending: deps.background.pendingCount,
        });
      }
      stopJobs();
      await deps.upstream.close();
      opened.close();
    },
  };
}

/** Runs each job on its interval; a job still running when its next turn comes is skipped. */
function scheduleJobs(deps: Deps, jobs: BackgroundJobs): () => void {
  const { limits } = deps.config;
  const schedule: [string, () => Promise<unknown>, number][] = [
    ['heartbeat', jobs.heartbeat, limits.heartbeatIntervalMs],
    ['sweep', jobs.sweep, limits.sweepIntervalMs],
    ['expire_coupons', jobs.expireCoupons, limits.couponExpiryIntervalMs],
    ['probe_backends', jobs.probeBackends, limits.healthProbeIntervalMs],
    ['scrape_metrics', jobs.scrapeMetrics, limits.metricsScrapeIntervalMs],
  ];
  const timers = schedule.map(([name, job, intervalMs]) => {
    let running = false;
    const timer = setInterval(() => {
      if (running) {
        return;
      }
      running = true;
      job()
        .catch((error: unknown) =>
          deps.logger.log('error', 'job_failed', {
            name,
            message: error instanceof Error ? error.message : String(error),
          }),
        )
        .finally(() => {
          running = false;
        });
    }, intervalMs);
    timer.unref();
    return timer;
  });
  return () => {
    for (const timer of timers) {
      clearInterval(timer);
    }
  };
}

/** True when `work` finished within `timeoutMs`. */
function withinMs(work: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    work.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
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

/** How often a closing server drops connections that went idle since the last look. */
const idleSweepMs = 50;

/** Stops accepting at once; requests in flight get `graceMs` to finish before they are cut. */
function closeServer(server: NodeServer, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = setTimeout(() => {
      if ('closeAllConnections' in server) {
        server.closeAllConnections();
      }
    }, graceMs);
    deadline.unref();
    // A kept-alive connection whose last request ends after close() would otherwise stay open
    // until its keep-alive timeout, holding the shutdown up for nothing.
    const idleSweep = setInterval(() => {
      if ('closeIdleConnections' in server) {
        server.closeIdleConnections();
      }
    }, idleSweepMs);
    server.close(() => {
      clearTimeout(deadline);
      clearInterval(idleSweep);
      resolve();
    });
    if ('closeIdleConnections' in server) {
      server.closeIdleConnections();
    }
  });
}
