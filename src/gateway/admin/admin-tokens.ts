/**
 * The admin tokens this gateway accepts, by hash. A configured token (TOKENBANK_ADMIN_TOKEN) is
 * fixed for the life of the process. Stored ones can be rotated through any replica: the rotating
 * replica reloads at once and announces it on the catalog change bus so the others reload at
 * once too; should the bus be down, each replica still reads the store again once its copy is
 * older than the credential cache's TTL, so a rotated-out token is refused within that bound.
 */
import type { Catalog } from '../../db/catalog.ts';
import type { AdminTokenSet } from '../../deps.ts';
import type { Clock } from '../../platform/clock.ts';

export class AdminTokens implements AdminTokenSet {
  readonly #catalog: Catalog;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  /** The operator set the token: nothing in the store can change it. */
  readonly configured: boolean;
  #hashes: readonly string[];
  #loadedAtMs: number;
  #loading: Promise<void> | undefined;

  constructor(options: {
    catalog: Catalog;
    clock: Clock;
    ttlMs: number;
    hashes: readonly string[];
    configured: boolean;
  }) {
    this.#catalog = options.catalog;
    this.#clock = options.clock;
    this.#ttlMs = options.ttlMs;
    this.configured = options.configured;
    this.#hashes = options.hashes;
    this.#loadedAtMs = options.clock.nowMs();
  }

  /** The accepted hashes, read again from the store when this copy is older than the TTL. */
  async current(): Promise<readonly string[]> {
    if (!this.configured && this.#clock.nowMs() - this.#loadedAtMs >= this.#ttlMs) {
      await this.reload();
    }
    return this.#hashes;
  }

  /** Reads the stored hashes now; concurrent callers share one read. */
  reload(): Promise<void> {
    if (this.configured) {
      return Promise.resolve();
    }
    this.#loading ??= this.#catalog
      .listAdminCredentials()
      .then((credentials) => {
        this.#hashes = credentials.map((credential) => credential.tokenHash);
        this.#loadedAtMs = this.#clock.nowMs();
      })
      .finally(() => {
        this.#loading = undefined;
      });
    return this.#loading;
  }
}
