/**
 * The few Cloudflare Workers runtime types this runtime uses, declared here rather than through
 * @cloudflare/workers-types, whose global declarations would clash with the DOM and Node types
 * the rest of the project compiles against. They follow the Durable Object storage API
 * (https://developers.cloudflare.com/durable-objects/api/storage-api/).
 */

/** What a SQL column or parameter may hold on Workers: no bigint (integers arrive as numbers). */
export type SqlStorageValue = ArrayBuffer | string | number | null;

export type SqlStorageCursor = {
  toArray(): Record<string, SqlStorageValue>[];
  one(): Record<string, SqlStorageValue>;
  raw(): { toArray(): SqlStorageValue[][] };
  readonly rowsWritten: number;
};

export type SqlStorage = {
  exec(query: string, ...bindings: SqlStorageValue[]): SqlStorageCursor;
};

export type DurableObjectStorage = {
  readonly sql: SqlStorage;
  /** Runs `body` as one SQLite transaction: every statement commits, or none. */
  transactionSync<Result>(body: () => Result): Result;
  setAlarm(scheduledTimeMs: number): Promise<void>;
  /** A value of the object's key-value storage (beside its SQL tables). */
  get<Value>(key: string): Promise<Value | undefined>;
  put(key: string, value: unknown): Promise<void>;
  getAlarm(): Promise<number | null>;
};

export type DurableObjectState = {
  readonly storage: DurableObjectStorage;
  blockConcurrencyWhile<Result>(body: () => Promise<Result>): Promise<Result>;
};

export type DurableObjectId = { toString(): string };

export type DurableObjectNamespace<Stub> = {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): Stub;
};

/** An object of an R2 bucket, as `get` answers it. */
export type R2ObjectBody = { arrayBuffer(): Promise<ArrayBuffer> };

/** The R2 bucket binding (https://developers.cloudflare.com/r2/api/workers/workers-api-reference/). */
export type R2Bucket = {
  put(key: string, value: Uint8Array): Promise<unknown>;
  get(key: string): Promise<R2ObjectBody | null>;
  /** Up to 1,000 keys at once; keys with no object are no error. */
  delete(keys: string | string[]): Promise<void>;
};

/** A D1 statement with its parameters bound (https://developers.cloudflare.com/d1/worker-api/). */
export type D1PreparedStatement = {
  bind(...values: SqlStorageValue[]): D1PreparedStatement;
  run(): Promise<unknown>;
  all(): Promise<{ results: Record<string, SqlStorageValue>[] }>;
  first(): Promise<Record<string, SqlStorageValue> | null>;
  raw(): Promise<SqlStorageValue[][]>;
};

/** The D1 database binding: statements, and batches that commit all together or not at all. */
export type D1Database = {
  prepare(query: string): D1PreparedStatement;
  batch(statements: D1PreparedStatement[]): Promise<unknown[]>;
};
