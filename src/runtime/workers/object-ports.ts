/**
 * Ports whose every method is one RPC call (the catalog, audit log and leases of the catalog
 * object), and ports a Worker does not serve, whose every method refuses with a 501 that says so
 * (Files and Batches on Workers: DEPLOY.md "Cloudflare Workers"). Both are built from the method
 * name alone, so they follow the port as it grows.
 */
import { GatewayError } from '../../errors.ts';

/** A port whose method `name` is answered by `call(name, parameters)`. */
export function portOverRpc<Port extends object>(
  call: (method: string, parameters: unknown[]) => Promise<unknown>,
): Port {
  return new Proxy({} as Port, {
    get: (_target, method) =>
      typeof method === 'string' && method !== 'then'
        ? (...parameters: unknown[]) => call(method, parameters)
        : undefined,
  });
}

/** A port this runtime does not serve: each method refuses with `not_supported_by_runtime`. */
export function refusedPort<Port extends object>(what: string): Port {
  return new Proxy({} as Port, {
    get: (_target, method) => {
      if (typeof method !== 'string' || method === 'then') {
        return undefined;
      }
      return async () => {
        throw new GatewayError(
          'not_supported_by_runtime',
          `${what} is not served by the gateway on Cloudflare Workers; use a Node gateway for it.`,
        );
      };
    },
  });
}
