/**
 * Ports whose every method is one RPC call (the ports of the coordinator object, the catalog a
 * provider's payout object reads), built from the method name alone, so they follow the port as
 * it grows.
 */

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
