/**
 * The DispatchCountExchange port: how replicas of the gateway tell each other how many requests
 * each has in flight on each backend (backends/dispatch-count-exchange.ts shares them; the Redis
 * exchange is in runtime/node/redis/). Without Redis there are no peers.
 */

export type PeerDispatchCounts = {
  /** Other replicas that shared their counts recently. */
  replicaCount: number;
  /** Their requests in flight per backend id, summed; a backend absent has none. */
  inFlightByBackend: ReadonlyMap<string, number>;
};

export type DispatchCountExchange = {
  /** Publishes this replica's requests in flight per backend and returns the other replicas'. */
  exchange(own: ReadonlyMap<string, number>): Promise<PeerDispatchCounts>;
};

export const noPeerDispatchCounts: PeerDispatchCounts = {
  replicaCount: 0,
  inFlightByBackend: new Map(),
};

/** One gateway alone: nothing to share, nobody to hear from. */
export const localDispatchCountExchange: DispatchCountExchange = {
  exchange: async () => noPeerDispatchCounts,
};
