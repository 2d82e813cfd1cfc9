/**
 * The client's going away, as the gateway listens for it: the part of an AbortSignal it uses.
 * An AbortSignal is one; a runtime may answer something lighter for an HTTP client, since Node
 * builds an AbortSignal (about 3 µs) only for the gateway to forward one event to it.
 */
export type ClientSignal = {
  /** Whether the client has gone. */
  readonly aborted: boolean;
  /** `listener` runs once when the client goes; never for a client already gone. */
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
};
