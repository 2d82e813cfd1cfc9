/**
 * The FileStore port: the files of the Files API (batch inputs a tenant uploads, batch outputs
 * the batch runner writes), their metadata and their bytes, every read scoped by tenant. A port
 * rather than tables read in place because the bytes need not stay in the database: on Node they
 * sit in the store's `files` table (a SQLite blob, a PostgreSQL bytea); on Workers in R2, the row
 * keeping the metadata (runtime/workers/r2-file-store.ts). Types and the
 * one rule every store shares (exceededOf); the stores live in runtime/<runtime>/. Here in db/ beside the
 * other store ports, so deps.ts takes it without reaching into gateway/.
 */
import type { filePurposes } from './enums.ts';

/** 'batch' | 'batch_output' (db/enums.ts, where the stores' column takes them from too). */
export type FilePurpose = (typeof filePurposes)[number];

export type StoredFile = {
  /** `file-` and random text (platform/identifiers.ts newOpenAIId). */
  id: string;
  tenantId: string;
  filename: string;
  purpose: FilePurpose;
  bytes: number;
  createdAtMs: number;
};

export type FileInput = {
  tenantId: string;
  filename: string;
  purpose: FilePurpose;
  content: Uint8Array;
  atMs: number;
};

/** The most a tenant may hold, files and bytes, counting the file being stored. */
export type FileQuota = { filesMax: number; bytesMax: number };

export type QuotaOutcome =
  | { ok: true; file: StoredFile }
  | { ok: false; exceeded: 'files' | 'bytes'; heldFiles: number; heldBytes: number };

export type FilePage = {
  purpose?: FilePurpose;
  limit: number;
  /** A file id: the page starts just past it, in the page's order. */
  after?: string;
  /** By creation time, then id. */
  order: 'asc' | 'desc';
};

export type FileStore = {
  /** Stores a file whatever the tenant holds (the batch runner's outputs). */
  create(input: FileInput): Promise<StoredFile>;
  /**
   * Stores a file only if the tenant then holds no more than the quota; the check and the insert
   * are one step, so concurrent uploads (on any replica) cannot pass the quota together.
   */
  createWithinQuota(input: FileInput, quota: FileQuota): Promise<QuotaOutcome>;
  get(tenantId: string, fileId: string): Promise<StoredFile | undefined>;
  list(tenantId: string, page: FilePage): Promise<StoredFile[]>;
  content(tenantId: string, fileId: string): Promise<Uint8Array | undefined>;
  /** true when it existed */
  delete(tenantId: string, fileId: string): Promise<boolean>;
  /** Bytes the tenant holds now (the storage meter will charge them). */
  bytesOfTenant(tenantId: string): Promise<number>;
  /** Files the tenant holds now, of every purpose. */
  countOfTenant(tenantId: string): Promise<number>;
  /**
   * Every tenant holding files created before `createdBeforeMs`, with their bytes, by tenant id:
   * what a storage tick charges.
   */
  bytesByTenant(createdBeforeMs: number): Promise<{ tenantId: string; bytes: number }[]>;
  /** Deletes every file of the tenant (storage it did not pay for); how many there were. */
  deleteAllOfTenant(tenantId: string): Promise<number>;
};

/** Which part of the quota one more file of `bytes` would pass, if any. */
export function exceededOf(
  held: { files: number; bytes: number },
  bytes: number,
  quota: FileQuota,
): 'files' | 'bytes' | undefined {
  if (held.files + 1 > quota.filesMax) {
    return 'files';
  }
  return held.bytes + bytes > quota.bytesMax ? 'bytes' : undefined;
}
