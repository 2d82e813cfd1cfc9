/**
 * The admin API of API.md against the real app and a real in-memory store: tenants, their keys,
 * providers and the price book. Every answer is checked for a request id and for never being a
 * server error; every failure for OpenAI's envelope with the code, type and param of the table.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  answeredRequests,
  type ErrorBody,
  expectError,
  type ListBody,
  readJson,
} from './support/api-assertions.ts';
import { type InProcessGateway, startInProcessGateway } from './support/in-process-gateway.ts';

type TenantBody = {
  id: string;
  object: string;
  name: string;
  home_region: string | null;
  allowed_regions: string[] | null;
  allow_max_tokens_clamp: boolean;
  currency: string;
  created_at: string;
};
type KeyBody = {
  id: string;
  tenant_id: string;
  name: string | null;
  key_prefix: string;
  models: string[] | null;
  rpm: number | null;
  tpm: number | null;
  status: string;
  created_at: string;
  revoked_at: string | null;
  key?: string;
};
type ProviderBody = { id: string; name: string; payout_bps: number; token?: string };
type PriceBody = {
  object: string;
  model: string;
  version: number;
  region: string | null;
  input: string;
  cached_input: string;
  output: string;
  card_hour: string | null;
  currency: string;
  effective_at: string;
  offpeak: { start: string; end: string; timezone: string; multiplier_bps: number } | null;
};

const startedAt = '2026-11-26T09:00:00.000Z';
const rfc3339Utc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const minuteMs = 60_000;

let gateway: InProcessGateway;

beforeEach(async () => {
  gateway = await startInProcessGateway();
});

afterEach(async () => {
  await gateway.close();
});

const { admin, withToken } = answeredRequests(() => gateway);

/** Every failure here is also final: it tells OpenAI's SDKs not to retry it. */
async function expectFinalError(
  response: Response,
  status: number,
  code: string,
  param: string | null = null,
): Promise<ErrorBody['error']> {
  const error = await expectError(response, status, code, param);
  expect(response.headers.get('x-should-retry')).toBe('false');
  return error;
}

async function createTenant(body: Record<string, unknown> = { name: 'Acme' }): Promise<TenantBody> {
  return readJson<TenantBody>(await admin('POST', '/admin/v1/tenants', body), 201);
}

async function createKey(tenantId: string, body: Record<string, unknown> = {}): Promise<KeyBody> {
  return readJson<KeyBody>(await admin('POST', `/admin/v1/tenants/${tenantId}/keys`, body), 201);
}

async function putPrice(model: string, body: Record<string, unknown>): Promise<PriceBody> {
  return readJson<PriceBody>(await admin('PUT', `/admin/v1/prices/${model}`, body), 201);
}

async function currentPriceBook(): Promise<PriceBody[]> {
  return (await readJson<ListBody<PriceBody>>(await admin('GET', '/admin/v1/prices'), 200)).data;
}

describe('POST /admin/v1/tenants', () => {
  it('creates a tenant and answers 201 with its whole shape', async () => {
    const tenant = await createTenant({
      name: 'Acme Robotics',
      home_region: 'cn-east',
      allowed_regions: ['cn-east', 'cn-north'],
      allow_max_tokens_clamp: true,
    });

    expect(tenant).toMatchObject({
      id: expect.stringMatching(/^ten_[a-z0-9]{20}$/),
      object: 'tenant',
      name: 'Acme Robotics',
      home_region: 'cn-east',
      allowed_regions: ['cn-east', 'cn-north'],
      allow_max_tokens_clamp: true,
      currency: 'CNY',
      created_at: startedAt,
    });
    expect(tenant.created_at).toMatch(rfc3339Utc);
  });

  it('defaults to no home region, every region allowed and no max_tokens clamp', async () => {
    const tenant = await createTenant({ name: 'Solo' });

    expect(tenant).toMatchObject({
      name: 'Solo',
      home_region: null,
      allowed_regions: null,
      allow_max_tokens_clamp: false,
    });
  });

  it('trims the name', async () => {
    expect((await createTenant({ name: '  Acme  ' })).name).toBe('Acme');
  });

  it.each([
    ['a missing name', {}, 'name'],
    ['a blank name', { name: '   ' }, 'name'],
    ['a name that is not a string', { name: 42 }, 'name'],
    ['a name over 200 characters', { name: 'n'.repeat(201) }, 'name'],
    ['an unknown field', { name: 'Acme', nmae: 'typo' }, 'nmae'],
    [
      'a home_region not in allowed_regions',
      { name: 'Acme', home_region: 'us-west', allowed_regions: ['cn-east'] },
      'home_region',
    ],
    [
      'a home_region with upper case and a space',
      { name: 'Acme', home_region: 'CN East' },
      'home_region',
    ],
    [
      'a region with an underscore',
      { name: 'Acme', allowed_regions: ['cn_east'] },
      'allowed_regions.0',
    ],
    [
      'a region starting with a dash',
      { name: 'Acme', allowed_regions: ['-east'] },
      'allowed_regions.0',
    ],
    ['an empty allowed_regions list', { name: 'Acme', allowed_regions: [] }, 'allowed_regions'],
    [
      'a clamp flag that is not a boolean',
      { name: 'Acme', allow_max_tokens_clamp: 'yes' },
      'allow_max_tokens_clamp',
    ],
  ])('refuses %s with 400 invalid_request naming the field', async (_case, body, param) => {
    await expectFinalError(
      await admin('POST', '/admin/v1/tenants', body),
      400,
      'invalid_request',
      param,
    );

    const list = await readJson<ListBody<TenantBody>>(await admin('GET', '/admin/v1/tenants'), 200);
    expect(list.data).toEqual([]);
  });
});

describe('GET /admin/v1/tenants', () => {
  it('answers an empty list before any tenant exists', async () => {
    const list = await readJson<ListBody<TenantBody>>(await admin('GET', '/admin/v1/tenants'), 200);

    expect(list).toEqual({ object: 'list', data: [], has_more: false, next_cursor: null });
  });

  it('pages with limit and the after cursor until has_more is false', async () => {
    const created: string[] = [];
    for (const name of ['t1', 't2', 't3', 't4', 't5']) {
      created.push((await createTenant({ name })).id);
    }

    const pages: ListBody<TenantBody>[] = [];
    let cursor: string | null | undefined;
    do {
      const query = cursor ? `?limit=2&after=${cursor}` : '?limit=2';
      const page = await readJson<ListBody<TenantBody>>(
        await admin('GET', `/admin/v1/tenants${query}`),
        200,
      );
      pages.push(page);
      cursor = page.next_cursor;
    } while (cursor && pages.length < 10);

    expect(pages.map((page) => [page.data.length, page.has_more])).toEqual([
      [2, true],
      [2, true],
      [1, false],
    ]);
    for (const page of pages.slice(0, -1)) {
      expect(page.next_cursor).toBe(page.data.at(-1)?.id);
    }
    expect(pages.at(-1)?.next_cursor).toBeNull();
    const seen = pages.flatMap((page) => page.data.map((tenant) => tenant.id));
    expect(seen).toEqual([...created].sort());
  });

  it('answers a last page without has_more when limit equals what is left', async () => {
    await createTenant({ name: 't1' });
    await createTenant({ name: 't2' });

    const page = await readJson<ListBody<TenantBody>>(
      await admin('GET', '/admin/v1/tenants?limit=2'),
      200,
    );

    expect(page.data).toHaveLength(2);
    expect(page.has_more).toBe(false);
    expect(page.next_cursor).toBeNull();
  });

  it('accepts the largest limit, 100', async () => {
    await readJson(await admin('GET', '/admin/v1/tenants?limit=100'), 200);
  });

  it.each(['0', '-1', '1.5', 'abc', '101', ''])(
    'refuses limit=%s with 400 invalid_request, param limit',
    async (limit) => {
      await expectFinalError(
        await admin('GET', `/admin/v1/tenants?limit=${limit}`),
        400,
        'invalid_request',
        'limit',
      );
    },
  );
});

describe('GET /admin/v1/tenants/{id}', () => {
  it('reads a tenant back exactly as it was created', async () => {
    const created = await createTenant({ name: 'Acme', home_region: 'cn-east' });

    const read = await readJson<TenantBody>(
      await admin('GET', `/admin/v1/tenants/${created.id}`),
      200,
    );

    expect(read).toMatchObject(created);
  });

  it('answers 404 not_found for an unknown tenant', async () => {
    await expectFinalError(
      await admin('GET', '/admin/v1/tenants/ten_doesnotexist'),
      404,
      'not_found',
    );
  });
});

describe('API keys', () => {
  it('creates a key whose secret starts with tbk- and is shown only once', async () => {
    const tenant = await createTenant();

    const key = await createKey(tenant.id, {
      name: 'ci',
      models: ['qwen/qwen2.5-7b'],
      rpm: 60,
      tpm: 100_000,
    });

    expect(key).toMatchObject({
      id: expect.stringMatching(/^key_[a-z0-9]{20}$/),
      tenant_id: tenant.id,
      name: 'ci',
      models: ['qwen/qwen2.5-7b'],
      rpm: 60,
      tpm: 100_000,
      status: 'active',
      created_at: startedAt,
      revoked_at: null,
      key: expect.stringMatching(/^tbk-[a-z0-9]{40}$/),
    });
    expect(key.key?.startsWith(key.key_prefix)).toBe(true);
    expect(key.key_prefix).toMatch(/^tbk-[a-z0-9]{6}$/);

    const listResponse = await admin('GET', `/admin/v1/tenants/${tenant.id}/keys`);
    const listText = await listResponse.clone().text();
    const list = await readJson<ListBody<KeyBody>>(listResponse, 200);
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({
      id: key.id,
      key_prefix: key.key_prefix,
      status: 'active',
    });
    expect(list.data[0]).not.toHaveProperty('key');
    expect(listText).not.toContain(String(key.key));
  });

  it('creates a key with no limits from an empty object', async () => {
    const tenant = await createTenant();

    const key = await createKey(tenant.id, {});

    expect(key).toMatchObject({ name: null, models: null, rpm: null, tpm: null, status: 'active' });
  });

  it('gives every key its own secret', async () => {
    const tenant = await createTenant();

    const first = await createKey(tenant.id);
    const second = await createKey(tenant.id);

    expect(first.key).not.toBe(second.key);
    expect(first.id).not.toBe(second.id);
  });

  it('lets a key call GET /v1/models until it is revoked, then answers 401 invalid_api_key', async () => {
    const tenant = await createTenant();
    const key = await createKey(tenant.id);
    const secret = String(key.key);

    const models = await readJson<ListBody<unknown>>(
      await withToken(secret, 'GET', '/v1/models'),
      200,
    );
    expect(models).toEqual({ object: 'list', data: [] });

    const revoked = await readJson<KeyBody>(await admin('DELETE', `/admin/v1/keys/${key.id}`), 200);
    expect(revoked).toMatchObject({ id: key.id, status: 'revoked', revoked_at: startedAt });
    expect(revoked).not.toHaveProperty('key');

    await expectFinalError(await withToken(secret, 'GET', '/v1/models'), 401, 'invalid_api_key');
    const list = await readJson<ListBody<KeyBody>>(
      await admin('GET', `/admin/v1/tenants/${tenant.id}/keys`),
      200,
    );
    expect(list.data.map((listed) => listed.status)).toEqual(['revoked']);
  });

  it('keeps the first revocation time when a key is revoked twice', async () => {
    const tenant = await createTenant();
    const key = await createKey(tenant.id);
    await readJson(await admin('DELETE', `/admin/v1/keys/${key.id}`), 200);
    gateway.clock.advanceMs(minuteMs);

    const again = await readJson<KeyBody>(await admin('DELETE', `/admin/v1/keys/${key.id}`), 200);

    expect(again).toMatchObject({ status: 'revoked', revoked_at: startedAt });
  });

  it('revoking one key leaves the tenant’s other keys working', async () => {
    const tenant = await createTenant();
    const revoked = await createKey(tenant.id);
    const kept = await createKey(tenant.id);

    await readJson(await admin('DELETE', `/admin/v1/keys/${revoked.id}`), 200);

    await readJson(await withToken(String(kept.key), 'GET', '/v1/models'), 200);
  });

  it('answers 404 not_found when revoking an unknown key', async () => {
    await expectFinalError(
      await admin('DELETE', '/admin/v1/keys/key_doesnotexist'),
      404,
      'not_found',
    );
  });

  it('answers 404 not_found when creating or listing keys of an unknown tenant', async () => {
    await expectFinalError(
      await admin('POST', '/admin/v1/tenants/ten_doesnotexist/keys', {}),
      404,
      'not_found',
    );
    await expectFinalError(
      await admin('GET', '/admin/v1/tenants/ten_doesnotexist/keys'),
      404,
      'not_found',
    );
  });

  it.each([
    ['rpm of 0', { rpm: 0 }, 'rpm'],
    ['a fractional tpm', { tpm: 1.5 }, 'tpm'],
    ['an empty models list', { models: [] }, 'models'],
    ['an empty model name', { models: [''] }, 'models.0'],
    ['an unknown field', { scopes: ['all'] }, 'scopes'],
  ])('refuses a key with %s (400, param %s)', async (_case, body, param) => {
    const tenant = await createTenant();

    await expectFinalError(
      await admin('POST', `/admin/v1/tenants/${tenant.id}/keys`, body),
      400,
      'invalid_request',
      param,
    );

    const list = await readJson<ListBody<KeyBody>>(
      await admin('GET', `/admin/v1/tenants/${tenant.id}/keys`),
      200,
    );
    expect(list.data).toEqual([]);
  });
});

describe('POST /admin/v1/providers', () => {
  it('creates a provider whose token starts with tbp- and is shown only once', async () => {
    const provider = await readJson<ProviderBody>(
      await admin('POST', '/admin/v1/providers', { name: 'GPU Farm', payout_bps: 8000 }),
      201,
    );

    expect(provider).toMatchObject({
      id: expect.stringMatching(/^prv_[a-z0-9]{20}$/),
      name: 'GPU Farm',
      payout_bps: 8000,
      token: expect.stringMatching(/^tbp-[a-z0-9]{40}$/),
    });
    const listText = await (await admin('GET', '/admin/v1/providers')).text();
    expect(listText).toContain(provider.id);
    expect(listText).not.toContain(String(provider.token));
  });

  it.each([
    ['a missing name', { payout_bps: 8000 }, 'name'],
    ['a missing payout_bps', { name: 'GPU Farm' }, 'payout_bps'],
    ['payout_bps over 10000', { name: 'GPU Farm', payout_bps: 10_001 }, 'payout_bps'],
    ['a negative payout_bps', { name: 'GPU Farm', payout_bps: -1 }, 'payout_bps'],
    ['a fractional payout_bps', { name: 'GPU Farm', payout_bps: 80.5 }, 'payout_bps'],
    ['payout_bps as a string', { name: 'GPU Farm', payout_bps: '8000' }, 'payout_bps'],
  ])('refuses %s (400, param %s)', async (_case, body, param) => {
    await expectFinalError(
      await admin('POST', '/admin/v1/providers', body),
      400,
      'invalid_request',
      param,
    );
  });
});

describe('PUT /admin/v1/prices/{model}', () => {
  it('publishes version 1 with the whole price shape', async () => {
    const price = await putPrice('qwen2.5-7b', { input: '2.50', output: '8.00' });

    expect(price).toEqual({
      object: 'price',
      model: 'qwen2.5-7b',
      version: 1,
      region: null,
      input: '2.50',
      cached_input: '2.50',
      output: '8.00',
      card_hour: null,
      currency: 'CNY',
      effective_at: startedAt,
      offpeak: null,
    });
  });

  it('takes a card-hour price (per accelerator-hour) next to the token prices', async () => {
    const price = await putPrice('qwen2.5-7b', {
      input: '2.50',
      output: '8.00',
      card_hour: '12.5',
    });

    expect(price).toMatchObject({ card_hour: '12.50', input: '2.50' });
    expect((await currentPriceBook())[0]?.card_hour).toBe('12.50');
  });

  it('refuses a card-hour price that is not a decimal amount', async () => {
    await expectError(
      await admin('PUT', '/admin/v1/prices/m', { input: '1.00', output: '1.00', card_hour: -3 }),
      400,
      'invalid_request',
      'card_hour',
    );
  });

  it('publishes version 2 on the second PUT of the same model', async () => {
    await putPrice('qwen2.5-7b', { input: '2.50', output: '8.00' });

    const second = await putPrice('qwen2.5-7b', { input: '3.00', output: '9.00' });

    expect(second).toMatchObject({ version: 2, input: '3.00', output: '9.00' });
  });

  it('counts versions per model and per region', async () => {
    await putPrice('qwen2.5-7b', { input: '2.50', output: '8.00' });
    await putPrice('qwen2.5-7b', { input: '2.50', output: '8.00' });

    const regional = await putPrice('qwen2.5-7b', {
      input: '2.00',
      output: '7.00',
      region: 'cn-east',
    });
    const other = await putPrice('llama-3.1-8b', { input: '1.00', output: '2.00' });

    expect(regional).toMatchObject({ version: 1, region: 'cn-east' });
    expect(other).toMatchObject({ version: 1, region: null });
  });

  it.each([
    ['2.50', '2.50'],
    ['2.5', '2.50'],
    ['12', '12.00'],
    ['0', '0.00'],
    ['0.000001', '0.000001'],
    ['0.123456', '0.123456'],
    ['9007199254.740991', '9007199254.740991'],
  ])('stores money "%s" exactly and shows it as "%s"', async (amount, shown) => {
    const price = await putPrice('m', { input: amount, cached_input: amount, output: amount });

    expect([price.input, price.cached_input, price.output]).toEqual([shown, shown, shown]);
    const book = await currentPriceBook();
    expect(book[0]?.input).toBe(shown);
  });

  it.each([
    ['more than 6 decimals', '1.0000001'],
    ['a negative amount', '-1'],
    ['a JSON number', 1.5],
    ['an exponent', '1e3'],
    ['no leading digit', '.5'],
    ['a comma', '1,5'],
    ['a space', ' 1'],
    ['an empty string', ''],
    ['16 integer digits', '1000000000000000'],
    ['more micro-units than the store reads back exactly', '9007199254.740992'],
    ['more micro-units than a signed 64-bit integer holds', '9223372036854.775808'],
    ['the largest amount the decimal syntax allows', '999999999999999.999999'],
    ['null', null],
  ])('refuses an input price with %s (400, param input)', async (_case, amount) => {
    await expectFinalError(
      await admin('PUT', '/admin/v1/prices/m', { input: amount, output: '1.00' }),
      400,
      'invalid_request',
      'input',
    );

    expect(await currentPriceBook()).toEqual([]);
  });

  it.each([
    ['output', { input: '1.00', output: '-0.01' }],
    ['cached_input', { input: '1.00', output: '1.00', cached_input: '0.0000001' }],
  ])('names %s when that amount is wrong', async (param, body) => {
    await expectFinalError(
      await admin('PUT', '/admin/v1/prices/m', body),
      400,
      'invalid_request',
      param,
    );
  });

  it('accepts the deployment currency, CNY, when it is given', async () => {
    expect(await putPrice('m', { input: '1.00', output: '1.00', currency: 'CNY' })).toMatchObject({
      currency: 'CNY',
    });
  });

  it.each(['USD', 'cny', 'EUR'])('refuses currency %s (400, param currency)', async (currency) => {
    await expectFinalError(
      await admin('PUT', '/admin/v1/prices/m', { input: '1.00', output: '1.00', currency }),
      400,
      'invalid_request',
      'currency',
    );
  });

  it('stores an off-peak window and shows it back', async () => {
    const offpeak = {
      start: '23:00',
      end: '07:00',
      timezone: 'Asia/Shanghai',
      multiplier_bps: 5000,
    };

    const price = await putPrice('m', { input: '1.00', output: '2.00', offpeak });

    expect(price.offpeak).toEqual(offpeak);
  });

  it.each([
    ['an unknown time zone', { timezone: 'Mars/Olympus_Mons' }, 'offpeak.timezone'],
    ['a start of 24:00', { start: '24:00' }, 'offpeak.start'],
    ['an end without a leading zero', { end: '7:00' }, 'offpeak.end'],
    ['a negative multiplier', { multiplier_bps: -1 }, 'offpeak.multiplier_bps'],
  ])('refuses an off-peak window with %s (400, param %s)', async (_case, change, param) => {
    const offpeak = {
      start: '23:00',
      end: '07:00',
      timezone: 'Asia/Shanghai',
      multiplier_bps: 5000,
      ...change,
    };

    await expectFinalError(
      await admin('PUT', '/admin/v1/prices/m', { input: '1.00', output: '2.00', offpeak }),
      400,
      'invalid_request',
      param,
    );
  });

  it('accepts a model name with a slash and versions it like any other', async () => {
    const first = await putPrice('qwen/qwen2.5-7b', { input: '2.50', output: '8.00' });
    const second = await putPrice('qwen/qwen2.5-7b', { input: '2.00', output: '7.00' });

    expect(first).toMatchObject({ model: 'qwen/qwen2.5-7b', version: 1 });
    expect(second).toMatchObject({ model: 'qwen/qwen2.5-7b', version: 2 });
    expect((await currentPriceBook()).map((price) => [price.model, price.version])).toEqual([
      ['qwen/qwen2.5-7b', 2],
    ]);
  });

  it('reads a percent-encoded slash in the model name as the same model', async () => {
    await putPrice('qwen/qwen2.5-7b', { input: '2.50', output: '8.00' });

    const encoded = await putPrice('qwen%2Fqwen2.5-7b', { input: '2.00', output: '7.00' });

    expect(encoded).toMatchObject({ model: 'qwen/qwen2.5-7b', version: 2 });
  });

  it('refuses a model name over 256 characters (400, param model)', async () => {
    await expectFinalError(
      await admin('PUT', `/admin/v1/prices/${'m'.repeat(257)}`, { input: '1.00', output: '1.00' }),
      400,
      'invalid_request',
      'model',
    );
  });

  it('writes effective_at with an offset as UTC', async () => {
    const price = await putPrice('m', {
      input: '1.00',
      output: '1.00',
      effective_at: '2026-11-26T18:00:00+08:00',
    });

    expect(price.effective_at).toBe('2026-11-26T10:00:00.000Z');
  });

  it.each([
    ['effective_at that is not a time', { effective_at: 'tomorrow' }, 'effective_at'],
    ['a region with upper case', { region: 'CN-East' }, 'region'],
    ['an unknown field', { discount: '0.10' }, 'discount'],
  ])('refuses %s (400, param %s)', async (_case, change, param) => {
    await expectFinalError(
      await admin('PUT', '/admin/v1/prices/m', { input: '1.00', output: '1.00', ...change }),
      400,
      'invalid_request',
      param,
    );
  });
});

describe('GET /admin/v1/prices', () => {
  it('shows only the current version of each model, sorted by model', async () => {
    await putPrice('qwen2.5-7b', { input: '2.50', output: '8.00' });
    await putPrice('qwen2.5-7b', { input: '3.00', output: '9.00' });
    await putPrice('llama-3.1-8b', { input: '1.00', output: '2.00' });

    const book = await currentPriceBook();

    expect(book.map((price) => [price.model, price.version, price.input, price.output])).toEqual([
      ['llama-3.1-8b', 1, '1.00', '2.00'],
      ['qwen2.5-7b', 2, '3.00', '9.00'],
    ]);
  });

  it('shows a regional price next to the model’s regionless one', async () => {
    await putPrice('m', { input: '1.00', output: '1.00' });
    await putPrice('m', { input: '2.00', output: '2.00', region: 'cn-east' });

    const book = await currentPriceBook();

    expect(book.map((price) => [price.region, price.input])).toEqual([
      [null, '1.00'],
      ['cn-east', '2.00'],
    ]);
  });

  it('keeps a version with a future effective_at out of the book until its time comes', async () => {
    await putPrice('m', { input: '1.00', output: '1.00' });
    const inOneHour = new Date(Date.parse(startedAt) + 60 * minuteMs).toISOString();
    const scheduled = await putPrice('m', {
      input: '2.00',
      output: '2.00',
      effective_at: inOneHour,
    });
    expect(scheduled).toMatchObject({ version: 2, effective_at: inOneHour });

    expect((await currentPriceBook()).map((price) => price.version)).toEqual([1]);

    gateway.clock.advanceMs(59 * minuteMs);
    expect((await currentPriceBook()).map((price) => price.version)).toEqual([1]);

    gateway.clock.advanceMs(minuteMs);
    expect((await currentPriceBook()).map((price) => [price.version, price.input])).toEqual([
      [2, '2.00'],
    ]);
  });

  it('lists nothing for a model whose only version is still in the future', async () => {
    const tomorrow = new Date(Date.parse(startedAt) + 24 * 60 * minuteMs).toISOString();
    await putPrice('m', { input: '1.00', output: '1.00', effective_at: tomorrow });

    expect(await currentPriceBook()).toEqual([]);
  });
});
