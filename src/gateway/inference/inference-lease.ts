/**
 * What an inference request holds from the moment it is let in until its money is settled or
 * released (for a stream, after its last byte): a place among the gateway's requests in flight
 * and, for a stream, one of its key's stream slots. Refusals come before any money is touched:
 * 503 no_capacity while shutting down, past the in-flight bound or with the store's queue of
 * settlements too long; 429 rate_limit_exceeded past the key's concurrent streams.
 */
import type { ClientIdentity, Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import type { LimitKind } from '../../platform/metrics.ts';

export type InferenceLease = {
  /** Gives everything back; only the first call counts. */
  end(): void;
};

function noCapacity(deps: Deps, kind: LimitKind, message: string): GatewayError {
  deps.metrics.countLimited(kind);
  return new GatewayError('no_capacity', message, { retryAfterS: 1 });
}

export async function openInferenceLease(
  deps: Deps,
  client: ClientIdentity,
  stream: boolean,
): Promise<InferenceLease> {
  const { limits } = deps.config;
  if (deps.background.pendingCount >= limits.backgroundWorkPendingMax) {
    throw noCapacity(deps, 'background_work', 'The gateway is catching up on settlements; retry.');
  }
  const entered = deps.gate.enter(limits.inFlightRequestsMax);
  if (!entered.ok) {
    throw entered.reason === 'stopping'
      ? noCapacity(
          deps,
          'shutting_down',
          'The gateway is shutting down; retry on another instance.',
        )
      : noCapacity(
          deps,
          'requests_in_flight',
          'The gateway has too many requests in flight; retry.',
        );
  }
  const streamKey = `streams:${client.key.id}`;
  if (stream && !(await deps.counters.acquire(streamKey, limits.streamsPerKeyMax))) {
    entered.leave();
    deps.metrics.countLimited('streams_per_key');
    throw new GatewayError(
      'rate_limit_exceeded',
      `Rate limit reached for this API key: at most ${limits.streamsPerKeyMax} streams at once. Retry after 1 s.`,
      { retryAfterS: 1 },
    );
  }
  let ended = false;
  return {
    end() {
      if (ended) {
        return;
      }
      ended = true;
      entered.leave();
      if (stream) {
        deps.background.track('release_stream_slot', deps.counters.release(streamKey));
      }
    },
  };
}
