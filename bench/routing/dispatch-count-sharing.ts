/**
 * The replicas' dispatch-count exchange of the simulation: what `shareDispatchCounts`
 * (src/backends/dispatch-count-exchange.ts) does through Redis in production, every
 * `dispatchCountsShareIntervalMs`, in virtual time. Redis sits in one region (the first of the
 * scenario); each round a gateway's counts of its requests in flight per backend reach it one
 * way later, where they replace that gateway's previous ones, and the others' counts stored
 * there then come back one more way later into the gateway's pool, with how many the others
 * are. So a gateway in ap-south sees the others' counts 190 ms old at best, and between rounds
 * only its own change. Without it a router would see, on a backend without fresh metrics, only
 * its own share of the traffic there.
 */
import type { EventQueue } from './event-queue.ts';
import { oneWayMs } from './scenarios.ts';
import type { SimulatedGateway } from './simulated-gateway.ts';

export function shareDispatchCountsEvery(
  gateways: readonly SimulatedGateway[],
  events: EventQueue,
  intervalMs: number,
  untilMs: number,
): void {
  const redisRegion = gateways[0]?.region;
  if (gateways.length < 2 || redisRegion === undefined) {
    return;
  }
  const stored = new Map<SimulatedGateway, ReadonlyMap<string, number>>();
  const exchange = (gateway: SimulatedGateway) => {
    const own = new Map<string, number>();
    for (const backend of gateway.pool.all()) {
      own.set(backend.record.id, backend.inFlight);
    }
    const oneWay = oneWayMs(gateway.region, redisRegion);
    events.after(oneWay, () => {
      stored.set(gateway, own);
      const others = new Map<string, number>();
      for (const [peer, counts] of stored) {
        if (peer !== gateway) {
          for (const [id, count] of counts) {
            others.set(id, (others.get(id) ?? 0) + count);
          }
        }
      }
      const peerCount = stored.size - 1;
      events.after(oneWay, () => {
        gateway.pool.recordPeerLoad(others);
        gateway.pool.recordPeerReplicas(peerCount);
      });
    });
  };
  const round = () => {
    for (const gateway of gateways) {
      exchange(gateway);
    }
    if (events.nowMs() + intervalMs < untilMs) {
      events.after(intervalMs, round);
    }
  };
  events.after(0, round);
}
