/**
 * The Router port (DESIGN.md §5): given the routable candidates for one request, pick one, and
 * learn from what happened to earlier picks. The gateway filters candidates (model, health,
 * region policy, backends already tried); the router only ranks them.
 */
import type { PooledBackend } from './backend-pool.ts';

export type RouteRequest = {
  model: string;
  /** Estimated prompt tokens, when known. */
  promptTokens: number | undefined;
};

export type RouteObservation = {
  backend: PooledBackend;
  kind: 'dispatch' | 'first_byte' | 'done' | 'error';
  atMs: number;
  latencyMs?: number;
  status?: number;
};

export type Router = {
  pick(request: RouteRequest, candidates: readonly PooledBackend[]): PooledBackend | undefined;
  observe(observation: RouteObservation): void;
};
