/**
 * TOKENBANK_REQUEST_TIMEOUT_S, enforced by the gateway that owns the request: from admission, a
 * request has that long. Before its answer starts, the deadline aborts the forwarding (the client
 * gets 504 request_timeout and pays nothing: the backend was too slow). Once a stream runs, it
 * ends the stream with a final error event and `[DONE]`, and what was delivered is billed. The
 * owner ending its own requests is what lets the sweeper leave a live gateway's holds alone.
 */
import { GatewayError } from '../../errors.ts';

export type RequestDeadline = {
  /** Aborts when the deadline passes. */
  readonly signal: AbortSignal;
  readonly expired: boolean;
  /** Runs `end` when the deadline passes (at once if it has). */
  onExpiry(end: (error: GatewayError) => void): void;
  /** The request ended in time: forget the timer. */
  clear(): void;
};

export function timeoutError(timeoutS: number): GatewayError {
  return new GatewayError(
    'request_timeout',
    `The request ran longer than this gateway allows (${timeoutS} s) and was ended.`,
  );
}

export function startRequestDeadline(timeoutS: number): RequestDeadline {
  const controller = new AbortController();
  const endings: Array<(error: GatewayError) => void> = [];
  const expire = () => {
    controller.abort();
    const error = timeoutError(timeoutS);
    for (const end of endings.splice(0)) {
      end(error);
    }
  };
  const timer = setTimeout(expire, timeoutS * 1000);
  return {
    signal: controller.signal,
    get expired() {
      return controller.signal.aborted;
    },
    onExpiry(end) {
      if (controller.signal.aborted) {
        end(timeoutError(timeoutS));
        return;
      }
      endings.push(end);
    },
    clear() {
      clearTimeout(timer);
      endings.length = 0;
    },
  };
}
