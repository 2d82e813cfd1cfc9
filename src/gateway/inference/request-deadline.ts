/**
 * TOKENBANK_REQUEST_TIMEOUT_S, enforced by the gateway that owns the request: from admission, a
 * request has that long. Before its answer starts, the deadline aborts the forwarding (the client
 * gets 504 request_timeout and pays nothing: the backend was too slow). Once a stream runs, it
 * ends the stream with a final error event and `[DONE]`, and what was delivered is billed. The
 * owner ending its own requests is what lets the sweeper leave a live gateway's holds alone.
 *
 * It keeps no AbortSignal of its own: forwarding's attempts subscribe to its expiry beside the
 * client's signal (forward-with-retries.ts). A signal that followed the client's and the timer
 * cost an AbortController per request, about 3 µs on Node 20, plus a listener on the client's.
 */
import { GatewayError } from '../../errors.ts';

export type RequestDeadline = {
  /** Whether the deadline passed. */
  readonly expired: boolean;
  /**
   * Runs `end` when the deadline passes (at once if it has); the answer forgets `end`, for what
   * ends before the deadline (an attempt).
   */
  onExpiry(end: (error: GatewayError) => void): () => void;
  /** The request ended in time: forget the timer. */
  clear(): void;
};

export function timeoutError(timeoutS: number): GatewayError {
  return new GatewayError(
    'request_timeout',
    `The request ran longer than this gateway allows (${timeoutS} s) and was ended.`,
  );
}

const forgetNothing = () => {};

export function startRequestDeadline(timeoutS: number): RequestDeadline {
  const endings = new Set<(error: GatewayError) => void>();
  let expired = false;
  const expire = () => {
    expired = true;
    const error = timeoutError(timeoutS);
    const ending = [...endings];
    endings.clear();
    for (const end of ending) {
      end(error);
    }
  };
  const timer = setTimeout(expire, timeoutS * 1000);
  return {
    get expired() {
      return expired;
    },
    onExpiry(end) {
      if (expired) {
        end(timeoutError(timeoutS));
        return forgetNothing;
      }
      endings.add(end);
      return () => {
        endings.delete(end);
      };
    },
    clear() {
      clearTimeout(timer);
      endings.clear();
    },
  };
}
