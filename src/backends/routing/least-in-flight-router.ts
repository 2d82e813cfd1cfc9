/**
 * The first router: the candidate with the fewest requests in flight per slot, so a backend with
 * twice the slots takes twice the load; ties are broken at random so that equal backends share
 * the traffic instead of the first one taking it all. It stays as a baseline of the routing
 * benchmark and as a simple router for tests.
 */
import type { Clock } from '../../platform/clock.ts';
import { type Random, randomIndex } from '../../platform/random.ts';
import type { PooledBackend } from '../backend-pool.ts';
import { plainAttempt, type Router } from './router.ts';

export function createLeastInFlightRouter(random: Random, clock: Clock): Router {
  return {
    name: 'least-in-flight',
    pick(_request, candidates) {
      let best: PooledBackend[] = [];
      let bestLoad = Number.POSITIVE_INFINITY;
      for (const candidate of candidates) {
        const load = candidate.inFlight / Math.max(1, candidate.record.slots);
        if (load < bestLoad) {
          bestLoad = load;
          best = [candidate];
        } else if (load === bestLoad) {
          best.push(candidate);
        }
      }
      return best[randomIndex(random, best.length)];
    },
    dispatch: (request, backend) => plainAttempt(request, backend, clock.nowMs()),
    observe() {
      // Least in-flight needs nothing beyond the pool's own counters.
    },
  };
}
