/**
 * The Files API of OpenAI for batch inputs, with an API key: POST /v1/files (upload a `batch`
 * JSONL file), GET /v1/files (list, paged), GET /v1/files/{id}, GET /v1/files/{id}/content and
 * DELETE /v1/files/{id}. A tenant sees only its own files: another tenant's id answers 404
 * file_not_found, exactly as an id that never existed. The bytes are kept by the FileStore port.
 */
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { Limits } from '../../config.ts';
import { filePurposes } from '../../db/enums.ts';
import type { FilePage, FilePurpose, QuotaOutcome, StoredFile } from '../../db/file-store.ts';
import type { HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { arrayBufferBytes } from '../../platform/array-buffer-bytes.ts';
import { requireClient } from '../middleware/authenticate.ts';
import { listPageQuery } from '../middleware/query-fields.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { checkJsonlFile } from './check-jsonl-file.ts';
import { readFileUploadForm } from './file-upload-form.ts';
import { refuseUnpayableUpload } from './storage-meter.ts';

/** OpenAI's file object; a stored file is ready at once and kept until deleted. */
export function fileView(file: StoredFile) {
  return {
    id: file.id,
    object: 'file' as const,
    bytes: file.bytes,
    created_at: Math.floor(file.createdAtMs / 1000),
    filename: file.filename,
    purpose: file.purpose,
    status: 'processed' as const,
    expires_at: null,
    status_details: null,
  };
}

function fileNotFound(fileId: string): GatewayError {
  return new GatewayError('file_not_found', `No such File object: ${fileId.slice(0, 200)}.`, {
    param: 'file_id',
  });
}

function quotaRefusal(outcome: QuotaOutcome & { ok: false }, limits: Limits): GatewayError {
  const message =
    outcome.exceeded === 'files'
      ? `This tenant holds ${outcome.heldFiles} files, the most it may (filesPerTenantMax ${limits.filesPerTenantMax}).`
      : `This tenant's files hold ${outcome.heldBytes} bytes; with this file they would pass fileBytesPerTenantMax (${limits.fileBytesPerTenantMax}).`;
  return new GatewayError(
    'file_storage_limit_exceeded',
    `${message} Delete files it no longer needs.`,
    { param: 'file' },
  );
}

function isFilePurpose(value: string): value is FilePurpose {
  return (filePurposes as readonly string[]).includes(value);
}

/** `?purpose`, `?limit` (1 to listPageSizeMax, which is also the default), `?order`, `?after`. */
function filePageOf(query: Record<string, string>, limits: Limits): FilePage {
  const { purpose, after } = query;
  if (purpose !== undefined && !isFilePurpose(purpose)) {
    throw new GatewayError(
      'invalid_request',
      `purpose must be one of ${filePurposes.join(', ')}.`,
      {
        param: 'purpose',
      },
    );
  }
  const limitMax = limits.listPageSizeMax;
  const limit = query.limit === undefined ? limitMax : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > limitMax) {
    throw new GatewayError('invalid_request', `limit must be an integer from 1 to ${limitMax}.`, {
      param: 'limit',
    });
  }
  const order = query.order ?? 'desc';
  if (order !== 'asc' && order !== 'desc') {
    throw new GatewayError('invalid_request', "order must be 'asc' or 'desc'.", {
      param: 'order',
    });
  }
  return {
    limit,
    order,
    ...(purpose === undefined ? {} : { purpose }),
    ...(after === undefined ? {} : { after }),
  };
}

async function listFiles(c: Context<HonoEnv>) {
  const { files, config } = c.get('deps');
  const tenantId = c.get('client').tenant.id;
  const page = filePageOf(c.req.query(), config.limits);
  if (page.after !== undefined && !(await files.get(tenantId, page.after))) {
    throw new GatewayError('invalid_request', `after: no file ${page.after.slice(0, 200)}.`, {
      param: 'after',
    });
  }
  // One more than the page, to tell whether another page follows.
  const found = await files.list(tenantId, { ...page, limit: page.limit + 1 });
  const data = found.slice(0, page.limit).map(fileView);
  return c.json({
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: found.length > page.limit,
  });
}

async function uploadFile(c: Context<HonoEnv>) {
  const { files, config, clock } = c.get('deps');
  const { limits } = config;
  const upload = await readFileUploadForm(c);
  checkJsonlFile(upload.content, limits.batchLinesMax);
  await refuseUnpayableUpload(c.get('deps'), c.get('client').tenant, upload.content.byteLength);
  const outcome = await files.createWithinQuota(
    { tenantId: c.get('client').tenant.id, ...upload, atMs: clock.nowMs() },
    { filesMax: limits.filesPerTenantMax, bytesMax: limits.fileBytesPerTenantMax },
  );
  if (!outcome.ok) {
    throw quotaRefusal(outcome, limits);
  }
  return c.json(fileView(outcome.file));
}

export function registerFileRoutes(app: Hono<HonoEnv>): void {
  app.post('/v1/files', requireClient, uploadFile);
  app.get('/v1/files', requireClient, listFiles);

  app.get('/v1/files/:id', requireClient, async (c) => {
    const id = c.req.param('id');
    const file = await c.get('deps').files.get(c.get('client').tenant.id, id);
    if (!file) {
      throw fileNotFound(id);
    }
    return c.json(fileView(file));
  });

  app.get('/v1/files/:id/content', requireClient, async (c) => {
    const id = c.req.param('id');
    const content = await c.get('deps').files.content(c.get('client').tenant.id, id);
    if (!content) {
      throw fileNotFound(id);
    }
    return new Response(arrayBufferBytes(content), {
      headers: { 'content-type': 'application/octet-stream' },
    });
  });

  app.delete('/v1/files/:id', requireClient, async (c) => {
    const id = c.req.param('id');
    if (!(await c.get('deps').files.delete(c.get('client').tenant.id, id))) {
      throw fileNotFound(id);
    }
    return c.json({ id, object: 'file', deleted: true });
  });
}

/** The multipart form of an upload, as readFileUploadForm reads it. */
const fileUploadForm = z.object({
  purpose: z.literal('batch'),
  file: z.string().meta({ contentMediaType: 'application/jsonl', description: 'JSONL lines' }),
});

export function fileRouteDocs(): RouteDoc[] {
  const route = routeDocsFor('apiKey');
  return [
    route('post', '/v1/files', 'Upload a batch input file', { form: fileUploadForm }),
    route('get', '/v1/files', "The tenant's files, paged", {
      query: listPageQuery.extend({ purpose: z.enum(filePurposes).optional() }),
    }),
    route('get', '/v1/files/:id', 'Read a file object'),
    route('get', '/v1/files/:id/content', "A file's bytes", {
      successTypes: ['application/octet-stream'],
    }),
    route('delete', '/v1/files/:id', 'Delete a file'),
  ];
}
