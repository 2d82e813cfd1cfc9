/**
 * TOKENBANK_REQUEST_TIMEOUT_S, enforced by the gateway that owns the request: from admission, a
 * request has that long. Before its answer starts, the deadline aborts the forwarding (the client
 * gets 504 request_timeout and pays nothing: the backend was too slow). Once a stream runs, it
 * ends the stream with a final error event and `[DONE]`, and what was delivered is billed. The
 * owner ending its own requests is what lets the sweeper leave a live gateway's holds alone.
 *
 * Its signal also follows the client's, so forwarding listens to one signal: one controller and
 * one listener per request, where AbortSignal.any would build a combined signal, with a weak
 * reference to each source, on every request.
 */
import { GatewayError } from '../../errors.ts';

export type RequestDeadline = {
  /** Aborts when the deadline passes or the client leaves, whichever comes first. */
  readonly signal: AbortSignal;
  /** Whether the deadline passed (not the client leaving). */
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

export function startRequestDeadline(timeoutS: number, clientSignal: AbortSignal): RequestDeadline {
  const controller = new AbortController();
  const endings: Array<(error: GatewayError) => void> = [];
  let expired = false;
  const clientLeft = () => controller.abort(clientSignal.reason);
  if (clientSignal.aborted) {
    clientLeft();
  } else {
    clientSignal.addEventListener('abort', clientLeft, { once: true });
  }
  const expire = () => {
    expired = true;
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
      return expired;
    },
    onExpiry(end) {
      if (expired) {
        end(timeoutError(timeoutS));
        return;
      }
      endings.push(end);
    },
    clear() {
      clearTimeout(timer);
      clientSignal.removeEventListener('abort', clientLeft);
      endings.length = 0;
    },
  };
}
