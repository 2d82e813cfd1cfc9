/**
 * The parts of the `files` queries both stores build alike (drizzle's operators take either
 * dialect's columns): the columns that make a file's metadata (never its bytes), the condition
 * that scopes a read to one tenant's file, and a page of files: which, past its cursor, in what
 * order.
 */
import { type AnyColumn, and, asc, desc, eq, gt, lt, or, type SQL } from 'drizzle-orm';
import type { FilePage } from './file-store.ts';

type FileColumns<Column extends AnyColumn> = {
  id: Column;
  tenantId: Column;
  filename: Column;
  purpose: Column;
  bytes: Column;
  createdAtMs: Column;
};

/** Every column but the bytes, for the reads that must not load them. */
export function fileMetadataOf<Table extends FileColumns<AnyColumn>>(
  table: Table,
): Pick<Table, keyof FileColumns<AnyColumn>> {
  return {
    id: table.id,
    tenantId: table.tenantId,
    filename: table.filename,
    purpose: table.purpose,
    bytes: table.bytes,
    createdAtMs: table.createdAtMs,
  };
}

export function fileOfTenant(
  table: FileColumns<AnyColumn>,
  tenantId: string,
  fileId: string,
): SQL | undefined {
  return and(eq(table.tenantId, tenantId), eq(table.id, fileId));
}

/** Files past `after` in the page's order: by creation time, then id (ties are common). */
export function filesPast(
  table: FileColumns<AnyColumn>,
  after: { createdAtMs: number; id: string },
  order: 'asc' | 'desc',
): SQL | undefined {
  const beyond = order === 'asc' ? gt : lt;
  return or(
    beyond(table.createdAtMs, after.createdAtMs),
    and(eq(table.createdAtMs, after.createdAtMs), beyond(table.id, after.id)),
  );
}

/** A page's files of the tenant: of the page's purpose if it names one, past `cursor` if given. */
export function filePageOf(
  table: FileColumns<AnyColumn>,
  tenantId: string,
  page: FilePage,
  cursor: SQL | undefined,
): { where: SQL | undefined; orderBy: SQL[] } {
  const direction = page.order === 'asc' ? asc : desc;
  return {
    where: and(
      eq(table.tenantId, tenantId),
      page.purpose === undefined ? undefined : eq(table.purpose, page.purpose),
      cursor,
    ),
    orderBy: [direction(table.createdAtMs), direction(table.id)],
  };
}
