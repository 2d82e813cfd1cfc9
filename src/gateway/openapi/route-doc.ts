/**
 * What the OpenAPI document says of one route, kept beside the router that registers it: the
 * method and path as registered with Hono, a summary, the credential it takes, and the very zod
 * schemas its handler validates the body and query with. openapi-document.ts turns a list of
 * these into /openapi.json, so a schema changed for the handler is changed in the document too.
 */
import type { z } from 'zod';

/** The credentials of API.md: the admin token, a provider token, a tenant's API key, or none. */
export type AuthKind = 'admin' | 'provider' | 'apiKey' | 'none';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export type RouteDoc = {
  method: HttpMethod;
  /** Exactly as registered with Hono (`/admin/v1/tenants/:id`, `/v1/models/:id{.+}`). */
  path: string;
  summary: string;
  auth: AuthKind;
  /** The JSON body's schema, as the handler reads it. */
  body?: z.ZodType;
  /** A multipart/form-data body's fields, for uploads. */
  form?: z.ZodType;
  /** The query string's fields, each a string as it arrives. */
  query?: z.ZodObject;
  /** The status of success: 200 unless the route creates something. */
  successStatus?: 200 | 201;
  /** A write idempotent by `reference`: the same reference again answers 200, moving nothing. */
  byReference?: true;
  /** What a success may be sent as: JSON unless said. */
  successTypes?: readonly string[];
};

/** What a route that exports usage or statements may answer with. */
export const jsonOrCsv = ['application/json', 'text/csv'] as const;

type RouteDetails = Omit<RouteDoc, 'method' | 'path' | 'summary' | 'auth'>;

/** Writes the docs of routes that take one credential, one short line each. */
export function routeDocsFor(auth: AuthKind) {
  return (method: HttpMethod, path: string, summary: string, details: RouteDetails = {}) => ({
    auth,
    method,
    path,
    summary,
    ...details,
  });
}
