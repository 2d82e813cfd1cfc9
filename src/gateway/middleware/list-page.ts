/**
 * `?limit` and `?after` of a list route: limit from 1 to the configured maximum (default 20),
 * after an opaque cursor (an id). A bad limit is a 400 naming it.
 */
import type { Limits } from '../../config.ts';
import { GatewayError } from '../../errors.ts';

export type ListPage = { limit: number; after: string | undefined };

export function listPageOf(
  limits: Pick<Limits, 'listPageSizeMax'>,
  query: { limit?: string | undefined; after?: string | undefined },
): ListPage {
  const limitMax = limits.listPageSizeMax;
  const limit = query.limit === undefined ? Math.min(20, limitMax) : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > limitMax) {
    throw new GatewayError('invalid_request', `limit must be an integer from 1 to ${limitMax}.`, {
      param: 'limit',
    });
  }
  return { limit, after: query.after };
}
