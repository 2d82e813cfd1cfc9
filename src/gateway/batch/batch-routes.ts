/**
 * /v1/batches: create (the file is checked later, by the scheduler, as OpenAI's `validating`
 * step), get, list and cancel, each scoped to the key's tenant. Creating a batch moves no money:
 * every line is reserved and settled when it runs, like an interactive request.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { BatchRecord } from '../../db/batch-store.ts';
import { batchEndpoints } from '../../db/enums.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { newId } from '../../platform/identifiers.ts';
import { requireClient } from '../middleware/authenticate.ts';
import { readJsonBody } from '../middleware/json-body.ts';
import { listPageOf } from '../middleware/list-page.ts';
import { listPageQuery } from '../middleware/query-fields.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { batchView } from './batch-view.ts';

/** OpenAI's only completion window; the window is a promise about when lines finish. */
const completionWindows = { '24h': 24 * 3_600_000 } as const;

const metadataSchema = z
  .record(z.string().min(1).max(64), z.string().max(512))
  .refine((metadata) => Object.keys(metadata).length <= 16, 'metadata holds at most 16 pairs')
  .nullable()
  .optional();

const createBatchSchema = z.strictObject({
  input_file_id: z.string().min(1).max(128),
  endpoint: z.enum(batchEndpoints),
  completion_window: z.enum(['24h']),
  metadata: metadataSchema,
});

/** Batches a cancel may still stop; the others have ended or are ending. */
const cancellable = ['validating', 'in_progress'] as const;

function batchNotFound(batchId: string): GatewayError {
  return new GatewayError('not_found', `No batch with id '${batchId}'.`, { param: 'batch_id' });
}

async function batchOf(deps: Deps, tenantId: string, batchId: string): Promise<BatchRecord> {
  const batch = await deps.batches.getBatch(tenantId, batchId);
  if (batch === undefined) {
    throw batchNotFound(batchId);
  }
  return batch;
}

export function registerBatchRoutes(app: Hono<HonoEnv>): void {
  app.post('/v1/batches', requireClient, async (c) => {
    const deps = c.get('deps');
    const { tenant, key } = c.get('client');
    const { value } = await readJsonBody(c, createBatchSchema);
    const file = await deps.files.get(tenant.id, value.input_file_id);
    if (file === undefined) {
      throw new GatewayError('not_found', `No file with id '${value.input_file_id}'.`, {
        param: 'input_file_id',
      });
    }
    if (file.purpose !== 'batch') {
      throw new GatewayError(
        'invalid_request',
        `The file '${file.id}' has purpose '${file.purpose}'; a batch reads a file of purpose 'batch'.`,
        { param: 'input_file_id' },
      );
    }
    const { batchesOpenPerTenantMax } = deps.config.limits;
    if ((await deps.batches.openBatchCount(tenant.id)) >= batchesOpenPerTenantMax) {
      throw new GatewayError(
        'rate_limit_exceeded',
        `At most ${batchesOpenPerTenantMax} batches of a tenant may be open at once; wait for one to end.`,
      );
    }
    const nowMs = deps.clock.nowMs();
    const batch: BatchRecord = {
      id: newId('batch'),
      tenantId: tenant.id,
      keyId: key.id,
      endpoint: value.endpoint,
      inputFileId: file.id,
      completionWindow: value.completion_window,
      status: 'validating',
      metadata: value.metadata ?? null,
      errors: null,
      outputFileId: null,
      errorFileId: null,
      requestTotal: 0,
      requestCompleted: 0,
      requestFailed: 0,
      inputTokens: 0,
      outputTokens: 0,
      cost: 0n,
      createdAtMs: nowMs,
      expiresAtMs: nowMs + completionWindows[value.completion_window],
      inProgressAtMs: null,
      finalizingAtMs: null,
      completedAtMs: null,
      failedAtMs: null,
      expiredAtMs: null,
      cancellingAtMs: null,
      cancelledAtMs: null,
    };
    await deps.batches.insertBatch(batch);
    return c.json(batchView(batch));
  });

  app.get('/v1/batches', requireClient, async (c) => {
    const deps = c.get('deps');
    const page = listPageOf(deps.config.limits, c.req.query());
    const found = await deps.batches.listBatches(c.get('client').tenant.id, {
      limit: page.limit + 1,
      after: page.after,
    });
    const shown = found.slice(0, page.limit).map(batchView);
    return c.json({
      object: 'list',
      data: shown,
      first_id: shown[0]?.id ?? null,
      last_id: shown.at(-1)?.id ?? null,
      has_more: found.length > page.limit,
    });
  });

  app.get('/v1/batches/:id', requireClient, async (c) => {
    const batch = await batchOf(c.get('deps'), c.get('client').tenant.id, c.req.param('id'));
    return c.json(batchView(batch));
  });

  app.post('/v1/batches/:id/cancel', requireClient, async (c) => {
    const deps = c.get('deps');
    const tenantId = c.get('client').tenant.id;
    const batch = await batchOf(deps, tenantId, c.req.param('id'));
    const moved = await deps.batches.transition(batch.id, cancellable, {
      to: 'cancelling',
      atMs: deps.clock.nowMs(),
    });
    const now = await batchOf(deps, tenantId, batch.id);
    if (!moved && now.status !== 'cancelling' && now.status !== 'cancelled') {
      throw new GatewayError(
        'conflict',
        `The batch '${batch.id}' is ${now.status} and can no longer be cancelled.`,
      );
    }
    return c.json(batchView(now));
  });
}

export function batchRouteDocs(): RouteDoc[] {
  const route = routeDocsFor('apiKey');
  return [
    route('post', '/v1/batches', 'Create a batch from an uploaded file', {
      body: createBatchSchema,
    }),
    route('get', '/v1/batches', "The tenant's batches, paged", { query: listPageQuery }),
    route('get', '/v1/batches/:id', 'Read a batch and its progress'),
    route('post', '/v1/batches/:id/cancel', 'Cancel a batch'),
  ];
}
