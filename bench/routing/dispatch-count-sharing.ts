/**
 * The replicas' dispatch-count exchange of the simulation: what `shareDispatchCounts`
 * (src/backends/dispatch-count-exchange.ts) does through Redis in production, every
 * `dispatchCountsShareIntervalMs`, done in virtual time and in one step (Redis sits in the
 * gateways' region, a millisecond away, against a 100 ms interval). Each gateway's pool learns
 * the other gateways' requests in flight per backend, as of the round, and how many they are;
 * between rounds it sees only its own change. Without it a router would see on a backend without
 * fresh metrics only its own share of the traffic there.
 */
import type { EventQueue } from './event-queue.ts';
import type { SimulatedGateway } from './simulated-gateway.ts';

export function shareDispatchCountsEvery(
  gateways: readonly SimulatedGateway[],
  events: EventQueue,
  intervalMs: number,
  untilMs: number,
): void {
  if (gateways.length < 2) {
    return;
  }
  const round = () => {
    const totals = new Map<string, number>();
    for (const gateway of gateways) {
      for (const backend of gateway.pool.all()) {
        totals.set(backend.record.id, (totals.get(backend.record.id) ?? 0) + backend.inFlight);
      }
    }
    for (const gateway of gateways) {
      const others = new Map<string, number>();
      for (const backend of gateway.pool.all()) {
        others.set(backend.record.id, (totals.get(backend.record.id) ?? 0) - backend.inFlight);
      }
      gateway.pool.recordPeerLoad(others);
      gateway.pool.recordPeerReplicas(gateways.length - 1);
    }
    if (events.nowMs() + intervalMs < untilMs) {
      events.after(intervalMs, round);
    }
  };
  events.after(0, round);
}
