/**
 * The `cloudflare:workers` module as this runtime uses it: the Durable Object base class whose
 * public methods other Workers call over RPC. Only src/runtime/workers/ imports it (biome.json).
 */
declare module 'cloudflare:workers' {
  import type { DurableObjectState } from './workers-types.ts';

  export abstract class DurableObject<Env = unknown> {
    protected readonly ctx: DurableObjectState;
    protected readonly env: Env;
    constructor(ctx: DurableObjectState, env: Env);
  }
}

/** A migration file, bundled as text by wrangler's `Text` rule. */
declare module '*.sql' {
  const text: string;
  export default text;
}

/** drizzle's migration journal, bundled as JSON. */
declare module '*/_journal.json' {
  const journal: {
    entries: { idx: number; when: number; tag: string; breakpoints: boolean }[];
  };
  export default journal;
}
