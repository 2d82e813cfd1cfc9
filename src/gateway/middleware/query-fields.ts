/**
 * The query-string fields several routes share, as zod schemas: the parsers test a value with
 * them and the OpenAPI document describes the field with them, so the two say the same.
 */
import { z } from 'zod';

/** A whole number written in a query string (`?limit`). */
export const queryInteger = z.string().regex(/^\d{1,9}$/, 'a whole number');

/** `?format` of a usage or statement read. */
export const exportFormatQuery = z.enum(['json', 'csv']);

/** An instant in a query string (`?from`, `?to`): RFC 3339, or a date alone. */
export const queryInstant = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/,
    'an RFC 3339 time like 2026-11-01T00:00:00Z',
  );

/** `?limit` and `?after` of a list. */
export const listPageQuery = z.object({
  limit: queryInteger.optional(),
  after: z.string().optional(),
});

/** `?from` and `?to`. */
export const timeRangeQuery = z.object({
  from: queryInstant.optional(),
  to: queryInstant.optional(),
});

/** A bounded usage read or statement page: its time range, page and format. */
export const usageQuery = timeRangeQuery.extend({
  limit: queryInteger.optional(),
  after: z.string().optional(),
  format: exportFormatQuery.optional(),
});
