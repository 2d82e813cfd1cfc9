/**
 * The router of DESIGN.md §5: predicted time of the whole answer (first token, then the output
 * at the pace of the backend's batch, weighted for a stream), plus the time the request adds to
 * the answers already on the backend and to the requests queueing behind it (route-cost.ts), plus
 * failure penalty; home region first with hysteresis, then a cheaper region when it costs at
 * most the request's price margin more. Among
 * the candidates of a region it takes the cheaper of two drawn at random in proportion to their
 * slots (three from 16 candidates on), because several gateways, or stale metrics, all sending to
 * "the cheapest" herd onto it (Mitzenmacher, "How useful is old information?"). Only with fresh
 * metrics for every candidate and a single live gateway does it take the cheapest outright. A
 * half-open circuit gets the next request as its probe.
 *
 * @example
 * const router = createLatencyAwareRouter({
 *   clock, random, settings: config.limits, liveReplicaCount: () => pool.liveReplicaCount,
 * });
 * const backend = router.pick(route, candidates);
 */
import { assert } from '../../assert.ts';
import type { Limits } from '../../config.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Random } from '../../platform/random.ts';
import type { PooledBackend } from '../backend-pool.ts';
import { circuitWantsProbe } from '../health/circuit-breaker.ts';
import { batchNowOf, freshScrapedLoad, slotsOf } from './backend-load.ts';
import {
  chooseRegion,
  createRegionPreference,
  type RegionPreference,
  type RegionSettings,
} from './region-preference.ts';
import {
  type CostSettings,
  expectedOutputTokens,
  failurePenaltyMs,
  loadNowOf,
  occupancyFor,
  predictTtftMs,
  queueDelayToOthersMs,
  weightedDecodeMs,
} from './route-cost.ts';
import {
  createModelPriorState,
  learnFromAttempt,
  type ModelPriorState,
  priorOf,
} from './route-learning.ts';
import type { RegionPreferenceSnapshot, RoutePrices, RouteRequest, Router } from './router.ts';

export type LatencyAwareRouterSettings = RegionSettings &
  Pick<
    Limits,
    | 'metricsStaleMs'
    | 'gatewayReplicaCount'
    | 'routingFailureHalfLifeMs'
    | 'routingStreamDecodeWeightBps'
  >;

/** Parts that can be switched off, for the benchmark's ablations; all on in production. */
export type RouterAblation = {
  correctScrapedLoad: boolean;
  failurePenalty: boolean;
  regionHysteresis: boolean;
  argmin: boolean;
  probes: boolean;
  /** Price the decode time, not only the first token. */
  decodeTime: boolean;
  /** Price what a request costs the other requests on a backend (and behind it), not only its own. */
  delayToOthers: boolean;
};

export type LatencyAwareRouterOptions = {
  clock: Clock;
  random: Random;
  settings: LatencyAwareRouterSettings;
  /**
   * Gateways routing to the same backends now, this one included (replicas count each other
   * through Redis); `gatewayReplicaCount`, when set, wins. One when neither says otherwise.
   */
  liveReplicaCount?: () => number;
  ablation?: Partial<RouterAblation>;
  name?: string;
};

type Choice = { backend: PooledBackend; costMs: number };

/** Model and home-region pairs remembered; a pathological catalog cannot grow this forever. */
const regionPreferencesMax = 10_000;
/**
 * A backend left without attempts this long gets one now and then (this share of decisions), so
 * that one which lost every comparison, or failed once while traffic was light, is measured
 * again instead of being judged forever by old numbers (llm-d explores with ε = 0.01 likewise).
 */
const neglectedAfterMs = 1_000;
const explorationShare = 0.02;

export function createLatencyAwareRouter(options: LatencyAwareRouterOptions): Router {
  const { clock, random, settings } = options;
  const ablation: RouterAblation = {
    correctScrapedLoad: true,
    failurePenalty: true,
    regionHysteresis: true,
    argmin: true,
    probes: true,
    decodeTime: true,
    delayToOthers: true,
    ...options.ablation,
  };
  const costSettings: CostSettings = {
    metricsStaleMs: settings.metricsStaleMs,
    failureHalfLifeMs: settings.routingFailureHalfLifeMs,
    correctScrapedLoad: ablation.correctScrapedLoad,
    streamDecodeWeightBps: settings.routingStreamDecodeWeightBps,
    delayToOthers: ablation.delayToOthers,
    replicaCount: 1,
  };
  const replicaCount = () => settings.gatewayReplicaCount ?? options.liveReplicaCount?.() ?? 1;
  const priors = new Map<string, ModelPriorState>();
  const preferences = new Map<string, { model: string; home: string; state: RegionPreference }>();

  function priorStateOf(model: string): ModelPriorState {
    let state = priors.get(model);
    if (state === undefined) {
      state = createModelPriorState();
      priors.set(model, state);
    }
    return state;
  }

  function preferenceOf(model: string, home: string, nowMs: number): RegionPreference {
    const key = `${model}\u0000${home}`;
    let entry = preferences.get(key);
    if (entry === undefined) {
      if (preferences.size >= regionPreferencesMax) {
        preferences.clear();
      }
      entry = { model, home, state: createRegionPreference(nowMs) };
      preferences.set(key, entry);
    }
    return entry.state;
  }

  /**
   * The candidate of least cost among `group` (all of it, or a draw). A failed try would be
   * retried at the best other candidate, so that one's first-token prediction prices each
   * failure.
   */
  function chooseAmong(
    group: readonly PooledBackend[],
    request: RouteRequest,
    nowMs: number,
  ): Choice {
    const outright =
      ablation.argmin &&
      costSettings.replicaCount === 1 &&
      group.every((backend) => freshScrapedLoad(backend.load, nowMs, settings.metricsStaleMs));
    const drawn = outright ? group : drawWeighted(group, group.length >= 16 ? 3 : 2, random);
    const prior = priorOf(priors.get(request.model));
    const outputTokens = expectedOutputTokens(request, prior);
    const loads = drawn.map((backend) => loadNowOf(backend, nowMs, costSettings));
    const predicted = drawn.map((backend, index) =>
      predictTtftMs(backend, request, prior, nowMs, costSettings, loads[index]),
    );
    let lowest = Number.POSITIVE_INFINITY;
    let secondLowest = Number.POSITIVE_INFINITY;
    for (const value of predicted) {
      if (value < lowest) {
        secondLowest = lowest;
        lowest = value;
      } else if (value < secondLowest) {
        secondLowest = value;
      }
    }
    let best: Choice | undefined;
    let ties = 0;
    for (const [index, backend] of drawn.entries()) {
      const predictedMs = predicted[index] ?? 0;
      const load = loads[index];
      const otherMs = predictedMs === lowest ? secondLowest : lowest;
      const retryMs = Number.isFinite(otherMs)
        ? otherMs
        : Math.max(predictedMs, prior.firstTokenMs);
      const answerMs =
        predictedMs +
        queueDelayToOthersMs(backend, request, prior, nowMs, costSettings, load) +
        (ablation.decodeTime
          ? weightedDecodeMs(backend, request, outputTokens, prior, nowMs, costSettings, load)
          : 0);
      const costMs = ablation.failurePenalty
        ? answerMs + failurePenaltyMs(backend, retryMs, nowMs, costSettings)
        : answerMs;
      if (best === undefined || costMs < best.costMs) {
        best = { backend, costMs };
        ties = 1;
      } else if (costMs === best.costMs) {
        ties += 1;
        if (random() * ties < 1) {
          best = { backend, costMs };
        }
      }
    }
    assert(best !== undefined, 'a non-empty group always yields a choice');
    return best;
  }

  /** Home region first, with hysteresis; the whole pool when there is no home, or only home. */
  function chooseByRegion(
    candidates: readonly PooledBackend[],
    request: RouteRequest,
    nowMs: number,
  ): Choice {
    const home = request.homeRegion;
    const homeGroup = home === null ? [] : candidates.filter((b) => b.record.region === home);
    if (home === null || homeGroup.length === 0 || homeGroup.length === candidates.length) {
      return chooseAmong(candidates, request, nowMs);
    }
    const remoteGroup = candidates.filter((backend) => backend.record.region !== home);
    const bestHome = chooseAmong(homeGroup, request, nowMs);
    const bestRemote = chooseAmong(remoteGroup, request, nowMs);
    if (!ablation.regionHysteresis) {
      return bestRemote.costMs < bestHome.costMs ? bestRemote : bestHome;
    }
    const preference = preferenceOf(request.model, home, nowMs);
    const side = chooseRegion(preference, bestHome.costMs, bestRemote.costMs, nowMs, settings);
    return side === 'home' ? bestHome : bestRemote;
  }

  /**
   * The best of the cheapest price rank whose best costs at most the margin more than `choice`;
   * `choice` itself when no cheaper rank comes that close.
   */
  function cheaperWithinMargin(
    choice: Choice,
    candidates: readonly PooledBackend[],
    request: RouteRequest,
    prices: RoutePrices,
    nowMs: number,
  ): Choice {
    const rankOf = (backend: PooledBackend) =>
      prices.rankByRegion.get(backend.record.region) ?? Number.POSITIVE_INFINITY;
    const chosenRank = rankOf(choice.backend);
    const cheaperRanks = [...new Set(candidates.map(rankOf))]
      .filter((rank) => rank < chosenRank)
      .sort((one, other) => one - other);
    for (const rank of cheaperRanks) {
      const group = candidates.filter((backend) => rankOf(backend) === rank);
      const best = chooseAmong(group, request, nowMs);
      if (best.costMs <= choice.costMs + prices.marginMs) {
        return best;
      }
    }
    return choice;
  }

  return {
    name: options.name ?? 'latency-aware',
    pick(request, candidates) {
      if (candidates.length <= 1) {
        return candidates[0];
      }
      const nowMs = clock.nowMs();
      // Read once per decision: the count changes with the exchange, not within a decision.
      costSettings.replicaCount = replicaCount();
      if (ablation.probes) {
        const waiting = candidates.find((backend) => circuitWantsProbe(backend.breaker, nowMs));
        if (waiting) {
          return waiting;
        }
      }
      if (random() < explorationShare) {
        const neglected = candidates.filter(
          (backend) => nowMs - backend.estimates.lastAttemptAtMs >= neglectedAfterMs,
        );
        if (neglected.length > 0) {
          return neglected[Math.floor(random() * neglected.length)];
        }
      }
      const choice = chooseByRegion(candidates, request, nowMs);
      return request.prices === undefined
        ? choice.backend
        : cheaperWithinMargin(choice, candidates, request, request.prices, nowMs).backend;
    },
    dispatch(request, backend) {
      const nowMs = clock.nowMs();
      costSettings.replicaCount = replicaCount();
      backend.estimates.lastAttemptAtMs = nowMs;
      const prior = priorOf(priors.get(request.model));
      const predictedTtftMs = predictTtftMs(backend, request, prior, nowMs, costSettings);
      backend.estimates.pendingPrefillTokens += request.promptTokens ?? 0;
      return {
        backend,
        request,
        dispatchedAtMs: nowMs,
        predictedTtftMs,
        queuedAtDispatch:
          occupancyFor(backend, nowMs, costSettings) >=
          batchNowOf(backend, nowMs, settings.metricsStaleMs),
        firstTokenAtMs: undefined,
      };
    },
    observe(attempt, outcome) {
      learnFromAttempt(
        attempt,
        outcome,
        priorStateOf(attempt.request.model),
        settings.routingFailureHalfLifeMs,
      );
    },
    regionPreferences(): RegionPreferenceSnapshot[] {
      return [...preferences.values()].map((entry) => ({
        model: entry.model,
        homeRegion: entry.home,
        mode: entry.state.mode,
        sinceMs: entry.state.sinceMs,
      }));
    },
  };
}

/**
 * `count` distinct backends drawn with probability proportional to their slots (all of them when
 * there are no more). Rejection sampling: with count much smaller than the group, a repeat is rare.
 */
function drawWeighted(
  group: readonly PooledBackend[],
  count: number,
  random: Random,
): readonly PooledBackend[] {
  if (group.length <= count) {
    return group;
  }
  const cumulative = new Float64Array(group.length);
  let total = 0;
  for (const [index, backend] of group.entries()) {
    total += Math.max(1, slotsOf(backend));
    cumulative[index] = total;
  }
  const chosen = new Set<number>();
  for (let tries = 0; chosen.size < count && tries < count * 8; tries += 1) {
    chosen.add(upperBound(cumulative, random() * total));
  }
  for (let index = 0; chosen.size < count; index += 1) {
    chosen.add(index);
  }
  return [...chosen].flatMap((index) => group[index] ?? []);
}

/** The first index whose cumulative weight exceeds `target`. */
function upperBound(cumulative: Float64Array, target: number): number {
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((cumulative[middle] ?? 0) > target) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return low;
}
