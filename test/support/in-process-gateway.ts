/**
 * The gateway app in-process over a real store (SQLite in memory, or the PostgreSQL database a
 * test names as `config.database`) and the real undici upstream, for tests that call it with
 * `app.request()` and need no listening socket of their own.
 */
import type { Hono } from 'hono';
import OpenAI from 'openai';
import { createApp } from '../../src/app.ts';
import type { ResolveHost } from '../../src/backends/upstream/backend-url-policy.ts';
import { type Config, type ConfigInput, parseConfig } from '../../src/config.ts';
import type { Deps, HonoEnv } from '../../src/deps.ts';
import type { ConsoleAssets } from '../../src/gateway/console/console-assets.ts';
import { createManualClock, systemClock } from '../../src/platform/clock.ts';
import { type Logger, silentLogger } from '../../src/platform/logger.ts';
import { createSeededRandom } from '../../src/platform/random.ts';
import { openGatewayStore } from '../../src/runtime/node/gateway-store.ts';
import { createNodeDeps } from '../../src/runtime/node/node-deps.ts';
import { sha256Hex } from '../../src/runtime/node/node-ports.ts';
import type { HttpCaller } from './demo-pool.ts';

export const testAdminToken = 'tba-test-admin-token-0123456789abcdef';

export type InProcessGateway = {
  app: Hono<HonoEnv>;
  deps: Deps;
  /** The manual clock the gateway reads, unless the test asked for real time. */
  clock: ReturnType<typeof createManualClock>;
  /** Calls the app with the admin token and a JSON body. */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  close(): Promise<void>;
};

/** Names resolve to a public address unless the test says otherwise. */
const publicResolver: ResolveHost = async () => ['93.184.216.34'];

export function bearerJson(token: string, method: string, body?: unknown): RequestInit {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
  }
  return {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  };
}

export async function startInProcessGateway(
  options: {
    config?: ConfigInput;
    environment?: Record<string, string>;
    resolveHost?: ResolveHost;
    /** Where the gateway's JSON log lines go; nowhere by default. */
    logger?: Logger;
    /**
     * Real time for the gateway (the router learns from how long answers take); the manual
     * clock, which the test moves, by default.
     */
    realTime?: boolean;
    /** Where the web console's built client is read; the package's dist/console/ by default. */
    consoleAssets?: ConsoleAssets;
  } = {},
): Promise<InProcessGateway> {
  // Tests register backends and route to them at once, unless one says otherwise.
  const parsed = parseConfig(options.environment ?? {}, {
    database: ':memory:',
    adminToken: testAdminToken,
    ...(options.environment?.TOKENBANK_AUTO_APPROVE_BACKENDS === undefined
      ? { autoApproveBackends: true }
      : {}),
    ...options.config,
  });
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  const config: Config = parsed.config;
  const logger = options.logger ?? silentLogger;
  // SQLite (in memory by default) or the PostgreSQL database the test names, migrated.
  const store = await openGatewayStore(config, logger);
  const clock = createManualClock(Date.UTC(2026, 10, 26, 9, 0, 0));
  const deps = createNodeDeps({
    config,
    store,
    clock: options.realTime === true ? systemClock : clock,
    random: createSeededRandom(11),
    logger,
    adminTokenHashes: [await sha256Hex(testAdminToken)],
    resolveHost: options.resolveHost ?? publicResolver,
    ...(options.consoleAssets === undefined ? {} : { consoleAssets: options.consoleAssets }),
  });
  const app = createApp(deps);
  return {
    app,
    deps,
    clock,
    admin: async (method, path, body) =>
      app.request(path, bearerJson(testAdminToken, method, body)),
    async close() {
      await deps.background.drain();
      await deps.sharedState.close();
      await deps.upstream.close();
      await store.close();
    },
  };
}

/** The seeding helpers of demo-pool.ts, pointed at the in-process app instead of a URL. */
export function inProcessCaller(gateway: InProcessGateway): HttpCaller {
  return async (method, path, token, body) => {
    const response = await gateway.app.request(path, bearerJson(token, method, body));
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
}

/**
 * The app's answer as a connection delivers it: the client's abort cancels the body it was
 * reading, as a closed socket ends a response on a real server. (The abort reaches the request's
 * own signal only through the Request's weakly held follower, which a collection can drop; the
 * SDK never cancels the body itself, counting on fetch to.)
 */
function cancelledOnAbort(response: Response, signal: AbortSignal | null | undefined): Response {
  if (!response.body || !signal) {
    return response;
  }
  const reader = response.body.getReader();
  const cancel = () => {
    reader.cancel(signal.reason).catch(() => undefined);
  };
  if (signal.aborted) {
    cancel();
  }
  signal.addEventListener('abort', cancel, { once: true });
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        signal.removeEventListener('abort', cancel);
        controller.close();
      } else {
        controller.enqueue(value);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, response);
}

/** An OpenAI SDK client whose requests go to the in-process app. */
export function inProcessOpenAI(gateway: InProcessGateway, apiKey: string): OpenAI {
  return new OpenAI({
    apiKey,
    baseURL: 'http://gateway.test/v1',
    maxRetries: 0,
    fetch: async (url, init) =>
      cancelledOnAbort(await gateway.app.request(String(url), init as RequestInit), init?.signal),
  });
}
