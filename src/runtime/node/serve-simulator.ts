/**
 * Serves a simulator on Node with @hono/node-server. It also supplies the one port the
 * runtime-neutral core cannot implement itself: the `refuse` fault, which destroys the client's TCP
 * socket so the client sees a connection closed with no HTTP response at all.
 */

import type { AddressInfo } from 'node:net';
import { type HttpBindings, serve } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';
import type { Logger } from '../../platform/logger.ts';
import { createSimulatorApp, type SimulatorApp } from '../../simulator/simulator-app.ts';
import type { SimulatorOptionsInput } from '../../simulator/simulator-options.ts';

export type ServeSimulatorOptions = {
  simulator: SimulatorOptionsInput;
  /** Interface to listen on; defaults to loopback so a demo never exposes itself by accident. */
  hostname?: string;
  /** 0 picks a free port, reported in the result. */
  port?: number;
  logger?: Logger;
};

export type ServedSimulator = {
  /** The OpenAI base URL, e.g. `http://127.0.0.1:8001/v1`: what an OpenAI SDK's `baseURL` takes. */
  url: string;
  /** Scheme, host and port without a path: where `/metrics`, `/health` and `/sim/*` live. */
  origin: string;
  port: number;
  simulator: SimulatorApp;
  /** Stops listening and drops every open connection, so hung and streaming requests end too. */
  close(): Promise<void>;
};

function refuseConnection(c: Context): Response {
  const bindings: HttpBindings = c.env;
  bindings.incoming.socket.destroy();
  return RESPONSE_ALREADY_SENT;
}

/** A URL clients can connect to: wildcard addresses are reached through loopback. */
function originFor(hostname: string, port: number): string {
  const connectHost = hostname === '0.0.0.0' || hostname === '::' ? '127.0.0.1' : hostname;
  const urlHost = connectHost.includes(':') ? `[${connectHost}]` : connectHost;
  return `http://${urlHost}:${port}`;
}

export function serveSimulator(options: ServeSimulatorOptions): Promise<ServedSimulator> {
  const simulator = createSimulatorApp(options.simulator, {
    refuseConnection,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const hostname = options.hostname ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const server = serve(
      { fetch: simulator.app.fetch, hostname, port: options.port ?? 0 },
      (info: AddressInfo) => {
        server.off('error', reject);
        const origin = originFor(hostname, info.port);
        resolve({
          url: `${origin}/v1`,
          origin,
          port: info.port,
          simulator,
          close: () => closeServer(server),
        });
      },
    );
    server.once('error', reject);
  });
}

type ClosableServer = ReturnType<typeof serve>;

function closeServer(server: ClosableServer): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error === undefined ? resolve() : reject(error)));
    // Idle keep-alive sockets and never-ending (hung) requests would hold close() open forever.
    if ('closeAllConnections' in server) {
      server.closeAllConnections();
    }
  });
}
