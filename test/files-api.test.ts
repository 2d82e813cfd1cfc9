/**
 * The Files API through the official `openai` SDK against a real gateway listening on a socket
 * (the Node request reader, not app.request): upload, list, retrieve, content and delete of batch
 * input files; a tenant never reaches another tenant's files; every limit is a clear 4xx that
 * stores nothing; and the 4 MiB JSON body bound does not apply to uploads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.ts';
import { type RunningGateway, startGateway } from '../src/runtime/node/start-gateway.ts';
import { createTenantWithKey, httpCaller } from './support/demo-pool.ts';
import { sdkFailure, uploadingClient } from './support/openai-client.ts';

const adminToken = `tba-${'f'.repeat(32)}`;
const limits = {
  // Below the upload sizes below: the JSON bound must not reach POST /v1/files.
  requestBodyBytesMax: 1024,
  fileUploadBytesMax: 8192,
  fileFormOverheadBytesMax: 1024,
  batchLinesMax: 10,
  filesPerTenantMax: 4,
  fileBytesPerTenantMax: 20_000,
  listPageSizeMax: 50,
};

let directory: string;
let gateway: RunningGateway;

type Tenant = { tenantId: string; apiKey: string; client: OpenAI };

async function newTenant(name: string): Promise<Tenant> {
  const created = await createTenantWithKey(httpCaller(gateway.url), adminToken, { name });
  const client = uploadingClient({
    baseURL: `${gateway.url}/v1`,
    apiKey: created.apiKey,
    timeoutMs: 20_000,
  });
  return { ...created, client };
}

/** `lines` request lines of about `lineBytes` bytes each. */
function jsonlOf(lines: number, lineBytes = 60): string {
  return Array.from({ length: lines }, (_, index) => {
    const line = JSON.stringify({
      custom_id: `r${index}`,
      method: 'POST',
      url: '/v1/chat/completions',
    });
    return `${line}${' '.repeat(Math.max(0, lineBytes - line.length - 1))}\n`;
  }).join('');
}

async function upload(
  tenant: Tenant,
  content: string | Uint8Array,
  options: { filename?: string; purpose?: OpenAI.FilePurpose } = {},
) {
  return tenant.client.files.create({
    file: await toFile(Buffer.from(content), options.filename ?? 'input.jsonl'),
    purpose: options.purpose ?? 'batch',
  });
}

async function heldBy(tenant: Tenant) {
  const { files } = gateway.deps;
  return {
    count: await files.countOfTenant(tenant.tenantId),
    bytes: await files.bytesOfTenant(tenant.tenantId),
  };
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'tokenbank-files-'));
  const parsed = parseConfig(
    { TOKENBANK_LIMITS: JSON.stringify(limits) },
    { port: 0, database: join(directory, 'gateway.db'), adminToken, logLevel: 'error' },
  );
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  gateway = await startGateway(parsed.config);
});

afterAll(async () => {
  await gateway?.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('the Files API through the OpenAI SDK', () => {
  let acme: Tenant;
  let other: Tenant;

  beforeAll(async () => {
    acme = await newTenant('acme');
    other = await newTenant('other');
  });

  it('uploads, retrieves, lists, reads and deletes a batch input file', async () => {
    const jsonl = jsonlOf(3);
    const beforeS = Math.floor(Date.now() / 1000);
    const created = await upload(acme, jsonl, { filename: 'requests 批次.jsonl' });

    expect(created).toEqual({
      id: expect.stringMatching(/^file-[a-z0-9]{24}$/),
      object: 'file',
      bytes: Buffer.byteLength(jsonl),
      created_at: expect.any(Number),
      filename: 'requests 批次.jsonl',
      purpose: 'batch',
      status: 'processed',
      expires_at: null,
      status_details: null,
    });
    expect(created.created_at).toBeGreaterThanOrEqual(beforeS);
    expect(await acme.client.files.retrieve(created.id)).toEqual(created);
    const listed = await acme.client.files.list();
    expect(listed.data.map((file) => file.id)).toContain(created.id);
    const content = await acme.client.files.content(created.id);
    expect(content.headers.get('content-type')).toBe('application/octet-stream');
    expect(await content.text()).toBe(jsonl);

    expect(await acme.client.files.delete(created.id)).toEqual({
      id: created.id,
      object: 'file',
      deleted: true,
    });
    const gone = await sdkFailure(acme.client.files.retrieve(created.id));
    expect(gone).toBeInstanceOf(OpenAI.NotFoundError);
    expect(gone.code).toBe('file_not_found');
    expect((await sdkFailure(acme.client.files.delete(created.id))).status).toBe(404);
  });

  it('takes an upload larger than the JSON body bound (requestBodyBytesMax)', async () => {
    const jsonl = jsonlOf(10, 700);
    expect(Buffer.byteLength(jsonl)).toBeGreaterThan(limits.requestBodyBytesMax * 5);

    const created = await upload(acme, jsonl);

    expect(created.bytes).toBe(Buffer.byteLength(jsonl));
    expect(await (await acme.client.files.content(created.id)).text()).toBe(jsonl);
    await acme.client.files.delete(created.id);
  });

  it("keeps a tenant out of another tenant's files: 404, as for no file at all", async () => {
    const created = await upload(acme, jsonlOf(1));

    for (const request of [
      other.client.files.retrieve(created.id),
      other.client.files.content(created.id),
      other.client.files.delete(created.id),
    ]) {
      const error = await sdkFailure(request);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect(error.code).toBe('file_not_found');
      expect(error.message).toContain(created.id);
    }
    const theirs = await other.client.files.list();
    expect(theirs.data.map((file) => file.id)).not.toContain(created.id);
    expect(await acme.client.files.retrieve(created.id)).toMatchObject({ id: created.id });
    await acme.client.files.delete(created.id);
  });

  it('pages the list newest first by default, and the SDK walks every page', async () => {
    const tenant = await newTenant('pages');
    for (let index = 0; index < 3; index += 1) {
      await upload(tenant, jsonlOf(1), { filename: `f${index}.jsonl` });
    }
    // Oldest first: by creation time, then id (uploads in one millisecond tie on the time).
    const oldestFirst = (
      await gateway.deps.files.list(tenant.tenantId, { limit: 10, order: 'asc' })
    ).map((file) => file.id);
    expect(oldestFirst).toHaveLength(3);

    const response = await fetch(`${gateway.url}/v1/files?limit=2&order=asc`, {
      headers: { authorization: `Bearer ${tenant.apiKey}` },
    });
    expect(await response.json()).toEqual({
      object: 'list',
      data: [
        expect.objectContaining({ id: oldestFirst[0] }),
        expect.objectContaining({ id: oldestFirst[1] }),
      ],
      first_id: oldestFirst[0],
      last_id: oldestFirst[1],
      has_more: true,
    });
    const walked: string[] = [];
    for await (const file of tenant.client.files.list({ limit: 1, order: 'asc' })) {
      walked.push(file.id);
    }
    expect(walked).toEqual(oldestFirst);
    const newestFirst = await tenant.client.files.list();
    expect(newestFirst.data.map((file) => file.id)).toEqual([...oldestFirst].reverse());
    expect(newestFirst.has_more).toBe(false);
    expect((await tenant.client.files.list({ purpose: 'batch_output' })).data).toEqual([]);
  });

  it("serves the batch runner's output files to their tenant like any other", async () => {
    const output = await gateway.deps.files.create({
      tenantId: acme.tenantId,
      filename: 'batch_output.jsonl',
      purpose: 'batch_output',
      content: new TextEncoder().encode('{"custom_id":"r0"}\n'),
      atMs: Date.now(),
    });

    expect(await acme.client.files.retrieve(output.id)).toMatchObject({ purpose: 'batch_output' });
    const listed = await acme.client.files.list({ purpose: 'batch_output' });
    expect(listed.data.map((file) => file.id)).toEqual([output.id]);
    expect(await (await acme.client.files.content(output.id)).text()).toBe('{"custom_id":"r0"}\n');
    expect((await other.client.files.list({ purpose: 'batch_output' })).data).toEqual([]);
    expect(await acme.client.files.delete(output.id)).toMatchObject({ deleted: true });
  });

  it('refuses list parameters out of range, naming each', async () => {
    for (const [query, param] of [
      ['limit=0', 'limit'],
      [`limit=${limits.listPageSizeMax + 1}`, 'limit'],
      ['order=sideways', 'order'],
      ['purpose=vision', 'purpose'],
      ['after=file-doesnotexist', 'after'],
    ]) {
      const response = await fetch(`${gateway.url}/v1/files?${query}`, {
        headers: { authorization: `Bearer ${acme.apiKey}` },
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { param: string } }).error.param).toBe(param);
    }
  });
});

describe('every upload limit is a clear 4xx that stores nothing', () => {
  let tenant: Tenant;

  beforeAll(async () => {
    tenant = await newTenant('limits');
  });

  /** Checks a refusal and that the tenant holds exactly what it held before. */
  async function expectRefused(
    request: Promise<unknown>,
    expected: { status: number; code: string; param: string | null; says: string },
  ) {
    const before = await heldBy(tenant);
    const error = await sdkFailure(request);
    expect({ status: error.status, code: error.code, param: error.param }).toEqual({
      status: expected.status,
      code: expected.code,
      param: expected.param,
    });
    expect(error.message).toContain(expected.says);
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(await heldBy(tenant)).toEqual(before);
  }

  it('a file over fileUploadBytesMax: 400 file_too_large', async () => {
    await expectRefused(upload(tenant, 'x'.repeat(limits.fileUploadBytesMax + 1)), {
      status: 400,
      code: 'file_too_large',
      param: 'file',
      says: 'File is too large',
    });
  });

  it('a body far over fileUploadBytesMax: the same 400, the body not read past its bound', async () => {
    await expectRefused(upload(tenant, 'x'.repeat(limits.fileUploadBytesMax * 8)), {
      status: 400,
      code: 'file_too_large',
      param: 'file',
      says: 'fileUploadBytesMax',
    });
  });

  it('more lines than batchLinesMax', async () => {
    await expectRefused(upload(tenant, jsonlOf(limits.batchLinesMax + 1)), {
      status: 400,
      code: 'invalid_request',
      param: 'file',
      says: 'batchLinesMax',
    });
  });

  it('an empty file', async () => {
    await expectRefused(upload(tenant, ''), {
      status: 400,
      code: 'invalid_request',
      param: 'file',
      says: 'empty',
    });
  });

  it('a file that is not UTF-8', async () => {
    await expectRefused(upload(tenant, Uint8Array.of(0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a)), {
      status: 400,
      code: 'invalid_request',
      param: 'file',
      says: 'UTF-8',
    });
  });

  it('a purpose other than batch', async () => {
    await expectRefused(upload(tenant, jsonlOf(1), { purpose: 'fine-tune' }), {
      status: 400,
      code: 'invalid_request',
      param: 'purpose',
      says: "purpose must be 'batch'",
    });
  });

  it('a body that is not a form', async () => {
    const response = await undiciFetch(`${gateway.url}/v1/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ purpose: 'batch', file: '{}' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: 'invalid_request' },
    });
    expect(await heldBy(tenant)).toEqual({ count: 0, bytes: 0 });
  });

  it('more files than filesPerTenantMax', async () => {
    const crowded = await newTenant('crowded');
    for (let index = 0; index < limits.filesPerTenantMax; index += 1) {
      await upload(crowded, jsonlOf(1));
    }
    const error = await sdkFailure(upload(crowded, jsonlOf(1)));
    expect(error.status).toBe(400);
    expect(error.code).toBe('file_storage_limit_exceeded');
    expect(error.message).toContain('filesPerTenantMax');
    expect(await crowded.client.files.list()).toMatchObject({ data: expect.any(Array) });
    expect((await crowded.client.files.list()).data).toHaveLength(limits.filesPerTenantMax);

    // Deleting one makes room again.
    const [oldest] = (await crowded.client.files.list({ order: 'asc' })).data;
    await crowded.client.files.delete(oldest?.id ?? '');
    expect((await upload(crowded, jsonlOf(1))).object).toBe('file');
  });

  it('more bytes than fileBytesPerTenantMax', async () => {
    await upload(tenant, jsonlOf(10, 800));
    await upload(tenant, jsonlOf(10, 800));
    expect((await heldBy(tenant)).bytes).toBe(16_000);
    await expectRefused(upload(tenant, jsonlOf(10, 450)), {
      status: 400,
      code: 'file_storage_limit_exceeded',
      param: 'file',
      says: 'fileBytesPerTenantMax',
    });
  });
});
