/**
 * The Node composition root: opens and migrates the store (SQLite, or PostgreSQL shared by
 * several replicas: gateway-store.ts), builds Deps once, serves the app with @hono/node-server,
 * runs the background jobs on intervals (those that must run once across replicas only while
 * this one holds the job lease), and shuts down in order (stop accepting, let requests finish up
 * to a deadline, settle what they left, give the lease up, close the store).
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from '../../app.ts';
import { admitRegisteredBackends } from '../../backends/admit-registered-backends.ts';
import type { Config } from '../../config.ts';
import type { Deps } from '../../deps.ts';
import {
  type AdminCredentials,
  ensureAdminCredential,
} from '../../gateway/admin/admin-credential.ts';
import {
  type BackgroundJobs,
  createBackgroundJobs,
} from '../../gateway/replicas/background-jobs.ts';
import { systemClock } from '../../platform/clock.ts';
import { createJsonLogger, type Logger } from '../../platform/logger.ts';
import { createSeededRandom } from '../../platform/random.ts';
import type { Tokenizer } from '../../platform/tokenizer.ts';
import { createBufferedLineWriter } from './buffered-line-writer.ts';
import { openGatewayStore } from './gateway-store.ts';
import { createNodeDeps } from './node-deps.ts';
import { sha256Hex } from './node-ports.ts';
import type { OpenedSqlite } from './sqlite/sqlite-database.ts';
import { startWalCheckpointer, type WalCheckpointer } from './sqlite/wal-checkpointer.ts';

/** Log text held back within one event-loop turn, at most. */
const logPendingBytesMax = 64 * 1024;

export type RunningGateway = {
  url: string;
  port: number;
  deps: Deps;
  jobs: BackgroundJobs;
  /** The admin token only on the start that generated it, and whether any is accepted. */
  admin: AdminCredentials;
  close(): Promise<void>;
};

export type StartGatewayOptions = {
  /** Where the JSON log lines go; stderr by default (the demo writes them to a file). */
  writeLog?: (text: string) => void;
  /** Whether a first start may generate the admin token: only when it can show it safely. */
  mayGenerateAdminToken?: boolean;
};

export async function startGateway(
  config: Config,
  options: StartGatewayOptions = {},
): Promise<RunningGateway> {
  const logLines = createBufferedLineWriter(
    options.writeLog ?? ((text) => process.stderr.write(text)),
    logPendingBytesMax,
  );
  const logger = createJsonLogger(config.logLevel, logLines.write);
  const store = await openGatewayStore(config, logger);
  const checkpointer =
    store.kind === 'sqlite' ? startSqliteCheckpointer(store.opened, config, logger) : undefined;
  const admin = await ensureAdminCredential({
    catalog: store.catalog,
    hashText: sha256Hex,
    clock: systemClock,
    configuredToken: config.adminToken,
    mayGenerate: options.mayGenerateAdminToken ?? true,
  });
  const deps = createNodeDeps({
    config,
    store,
    clock: systemClock,
    random: createSeededRandom(Date.now()),
    logger,
    adminTokenHashes: admin.tokenHashes,
    processMetrics: true,
  });
  await admitRegisteredBackends(deps.pool, await deps.catalog.listLiveBackends(), {
    allowPrivate: config.allowPrivateBackends,
    resolveHost: deps.resolveHost,
    onRefused: (record, reason) =>
      logger.log('warn', 'backend_refused', { backend_id: record.id, reason }),
  });
  await deps.catalogCache.reload();
  warmTokenizer(deps.tokenizer, config);
  const jobs = createBackgroundJobs(deps);
  // Before serving: claim this instance, then settle what a previous crash left behind.
  await jobs.recoverAtStart();
  await jobs.expireCoupons();
  const stopJobs = scheduleJobs(deps, jobs, store.kind === 'postgres');
  const server = await listen(createApp(deps).fetch, config);
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    deps,
    jobs,
    admin,
    async close() {
      // New requests are refused from here on, also on connections kept alive; no batch line starts.
      jobs.stopBatches();
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
      await deps.sharedState.close();
      await deps.upstream.close();
      await checkpointer?.stop();
      await store.close();
      logLines.close();
    },
  };
}

/** WAL checkpoints off the request path; an in-memory database has no WAL. */
function startSqliteCheckpointer(
  opened: OpenedSqlite,
  config: Config,
  logger: Logger,
): WalCheckpointer | undefined {
  if (opened.connection.memory) {
    return undefined;
  }
  const { limits } = config;
  return startWalCheckpointer(
    opened.connection,
    {
      intervalMs: limits.sqliteCheckpointIntervalMs,
      writerAutocheckpointPages: limits.sqliteWriterAutocheckpointPages,
    },
    (message) => logger.log('error', 'wal_checkpoint_failed', { message }),
  );
}

/**
 * Runs each job on its interval; a job still running when its next turn comes is skipped. On a
 * shared store (`sharedCatalog`) a backend may be registered through another replica: the pool
 * is reloaded from the catalog, with or without Redis to announce it sooner.
 */
function scheduleJobs(deps: Deps, jobs: BackgroundJobs, sharedCatalog: boolean): () => void {
  const { limits } = deps.config;
  const schedule: [string, () => Promise<unknown>, number][] = [
    ['heartbeat', jobs.heartbeat, limits.heartbeatIntervalMs],
    ['sweep', jobs.sweep, limits.sweepIntervalMs],
    ['expire_coupons', jobs.expireCoupons, limits.couponExpiryIntervalMs],
    ['probe_backends', jobs.probeBackends, limits.healthProbeIntervalMs],
    ['scrape_metrics', jobs.scrapeMetrics, limits.metricsScrapeIntervalMs],
    ['run_batches', jobs.runBatches, limits.batchTickMs],
    ['charge_storage', jobs.chargeStorage, limits.storageCheckIntervalMs],
    ['check_leases', jobs.checkLeases, limits.leaseCheckIntervalMs],
  ];
  if (deps.sharedState.shared) {
    schedule.push([
      'share_dispatch_counts',
      jobs.shareDispatchCounts,
      limits.dispatchCountsShareIntervalMs,
    ]);
  }
  if (deps.sharedState.shared || sharedCatalog) {
    schedule.push([
      'refresh_backends',
      jobs.refreshBackends,
      Math.max(limits.catalogRefreshMs, 1_000),
    ]);
  }
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

/**
 * Builds the inline tokenizer's encoders before serving: the first build reads and parses the
 * BPE ranks (a few hundred milliseconds), which would otherwise stall every request in flight at
 * the first short count.
 */
function warmTokenizer(tokenizer: Tokenizer, config: Config): void {
  for (const model of ['', ...Object.keys(config.modelEncodings)]) {
    tokenizer.countShortText('', model);
  }
}
