/**
 * The provider API of API.md: a provider registers, lists, changes, drains and removes its own
 * backends and never sees or touches another provider's; the admin sees the whole pool; backend
 * URLs aimed inside the operator's network are refused (SSRF) unless the operator allows them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResolveHost } from '../src/backends/upstream/backend-url-policy.ts';
import {
  answeredRequests,
  expectError,
  type ListBody,
  readJson,
} from './support/api-assertions.ts';
import { type InProcessGateway, startInProcessGateway } from './support/in-process-gateway.ts';

type BackendBody = {
  id: string;
  object: string;
  provider_id: string;
  url: string;
  region: string;
  models: string[];
  slots: number;
  metrics_url: string | null;
  has_api_key: boolean;
  state: string;
  in_flight: number;
  created_at: string;
  updated_at: string;
};
type ProviderBody = { id: string; token: string };

const startedAt = '2026-11-26T09:00:00.000Z';
const minuteMs = 60_000;
const publicAddress = '93.184.216.34';

/** Names under example.com resolve as the table says; anything else resolves publicly. */
const simulatedDns: Record<string, string[]> = {
  'gpu.internal.example.com': ['10.1.2.3'],
  'mixed.example.com': [publicAddress, '10.1.2.3'],
  'metadata-alias.example.com': ['169.254.169.254'],
  'v6-private.example.com': ['fd12:3456::1'],
  'v6-mapped.example.com': ['::ffff:127.0.0.1'],
};

const resolveHost: ResolveHost = async (hostName) => {
  if (hostName === 'nxdomain.example.com') {
    throw new Error('ENOTFOUND');
  }
  return simulatedDns[hostName] ?? [publicAddress];
};

let gateway: InProcessGateway;

afterEach(async () => {
  await gateway.close();
});

const { admin, withToken } = answeredRequests(() => gateway);

async function asProvider(
  provider: ProviderBody,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  return withToken(provider.token, method, path, body);
}

async function createProvider(name: string): Promise<ProviderBody> {
  return readJson<ProviderBody>(
    await admin('POST', '/admin/v1/providers', { name, payout_bps: 8000 }),
    201,
  );
}

const backendA = {
  url: 'https://gpu-a.example.com/v1',
  region: 'cn-east',
  models: ['qwen/qwen2.5-7b'],
  slots: 4,
};

async function register(
  provider: ProviderBody,
  body: Record<string, unknown> = backendA,
): Promise<BackendBody> {
  return readJson<BackendBody>(
    await asProvider(provider, 'POST', '/provider/v1/backends', body),
    201,
  );
}

/** Registering `body` is refused with 400 invalid_request naming `param`. */
async function expectRegistrationRefused(
  provider: ProviderBody,
  body: Record<string, unknown>,
  param: string,
): Promise<void> {
  await expectError(
    await asProvider(provider, 'POST', '/provider/v1/backends', body),
    400,
    'invalid_request',
    param,
  );
}

async function backendsOf(provider: ProviderBody): Promise<BackendBody[]> {
  return (
    await readJson<ListBody<BackendBody>>(
      await asProvider(provider, 'GET', '/provider/v1/backends'),
      200,
    )
  ).data;
}

async function pool(): Promise<BackendBody[]> {
  return (await readJson<ListBody<BackendBody>>(await admin('GET', '/admin/v1/backends'), 200))
    .data;
}

/** A new tenant's client key, to see the model catalog as a client does. */
async function createClientKey(): Promise<string> {
  const tenant = await readJson<{ id: string }>(
    await admin('POST', '/admin/v1/tenants', { name: 'Acme' }),
    201,
  );
  const key = await readJson<{ key: string }>(
    await admin('POST', `/admin/v1/tenants/${tenant.id}/keys`, {}),
    201,
  );
  return key.key;
}

async function catalogOf(clientKey: string): Promise<unknown[]> {
  return (await readJson<ListBody<unknown>>(await withToken(clientKey, 'GET', '/v1/models'), 200))
    .data;
}

describe('the provider API', () => {
  let providerA: ProviderBody;
  let providerB: ProviderBody;

  beforeEach(async () => {
    gateway = await startInProcessGateway({ resolveHost });
    providerA = await createProvider('Provider A');
    providerB = await createProvider('Provider B');
  });

  describe('POST /provider/v1/backends', () => {
    it('registers a backend and answers 201 with its shape, healthy and idle', async () => {
      const backend = await register(providerA, {
        ...backendA,
        metrics_url: 'https://gpu-a.example.com/metrics',
      });

      expect(backend).toMatchObject({
        id: expect.stringMatching(/^bkd_[a-z0-9]{20}$/),
        object: 'backend',
        provider_id: providerA.id,
        url: 'https://gpu-a.example.com/v1',
        region: 'cn-east',
        models: ['qwen/qwen2.5-7b'],
        slots: 4,
        accelerators: 1,
        accelerator: null,
        metrics_url: 'https://gpu-a.example.com/metrics',
        has_api_key: false,
        state: 'healthy',
        in_flight: 0,
        created_at: startedAt,
        updated_at: startedAt,
      });
    });

    it('never echoes the upstream api_key, in any answer', async () => {
      const apiKey = 'sk-upstream-secret-7f3a9c';

      const created = await asProvider(providerA, 'POST', '/provider/v1/backends', {
        ...backendA,
        api_key: apiKey,
      });
      const createdText = await created.text();
      const listText = await (await asProvider(providerA, 'GET', '/provider/v1/backends')).text();
      const poolText = await (await admin('GET', '/admin/v1/backends')).text();

      expect(created.status).toBe(201);
      expect(JSON.parse(createdText)).toMatchObject({ has_api_key: true });
      for (const text of [createdText, listText, poolText]) {
        expect(text).toContain('has_api_key');
        expect(text).not.toContain(apiKey);
        expect(text).not.toContain('"api_key"');
      }
    });

    it('stores the accelerators behind the backend and their model', async () => {
      const backend = await register(providerA, {
        ...backendA,
        accelerators: 4,
        accelerator: 'H100-80G',
      });
      const listed = await readJson<{ data: BackendBody[] }>(
        await asProvider(providerA, 'GET', '/provider/v1/backends'),
        200,
      );

      expect(backend).toMatchObject({ accelerators: 4, accelerator: 'H100-80G' });
      expect(listed.data[0]).toMatchObject({ accelerators: 4, accelerator: 'H100-80G' });
    });

    it('defaults to 8 slots, drops a trailing slash and repeated models', async () => {
      const backend = await register(providerA, {
        url: 'https://gpu-a.example.com/v1/',
        region: 'cn-east',
        models: ['m1', 'm2', 'm1'],
      });

      expect(backend).toMatchObject({
        url: 'https://gpu-a.example.com/v1',
        models: ['m1', 'm2'],
        slots: 8,
      });
    });

    it('puts the backend’s models into the catalog a client key sees', async () => {
      await register(providerA);
      await readJson(
        await admin('PUT', '/admin/v1/prices/qwen/qwen2.5-7b', { input: '2.50', output: '8.00' }),
        201,
      );
      const clientKey = await createClientKey();

      expect(await catalogOf(clientKey)).toEqual([
        expect.objectContaining({
          id: 'qwen/qwen2.5-7b',
          object: 'model',
          pricing: {
            input: '2.50',
            cached_input: '2.50',
            output: '8.00',
            card_hour: null,
            currency: 'CNY',
            regions: [
              {
                region: 'cn-east',
                input: '2.50',
                cached_input: '2.50',
                output: '8.00',
                card_hour: null,
                offpeak: [],
              },
            ],
          },
          regions: ['cn-east'],
        }),
      ]);
    });

    it.each([
      ['a missing url', { region: 'cn-east', models: ['m'] }, 'url'],
      ['a missing region', { url: backendA.url, models: ['m'] }, 'region'],
      ['a region with upper case', { ...backendA, region: 'CN-East' }, 'region'],
      ['no models', { ...backendA, models: [] }, 'models'],
      ['an empty model name', { ...backendA, models: [''] }, 'models.0'],
      ['0 slots', { ...backendA, slots: 0 }, 'slots'],
      ['fractional slots', { ...backendA, slots: 2.5 }, 'slots'],
      ['0 accelerators', { ...backendA, accelerators: 0 }, 'accelerators'],
      ['an unknown field', { ...backendA, provider_id: 'prv_other' }, 'provider_id'],
      ['a state on registration', { ...backendA, state: 'draining' }, 'state'],
    ])(
      'refuses %s (400 invalid_request, param %s) and stores nothing',
      async (_case, body, param) => {
        await expectRegistrationRefused(providerA, body, param);

        expect(await backendsOf(providerA)).toEqual([]);
      },
    );
  });

  describe('GET /provider/v1/backends', () => {
    it('lists only the calling provider’s own backends', async () => {
      const a1 = await register(providerA);
      const a2 = await register(providerA, { ...backendA, url: 'https://gpu-a2.example.com/v1' });
      const b1 = await register(providerB, { ...backendA, url: 'https://gpu-b.example.com/v1' });

      const listedByA = (await backendsOf(providerA)).map((backend) => backend.id);
      const listedByB = (await backendsOf(providerB)).map((backend) => backend.id);

      expect(listedByA.sort()).toEqual([a1.id, a2.id].sort());
      expect(listedByB).toEqual([b1.id]);
    });

    it('answers an empty list for a provider with no backends', async () => {
      expect(
        await readJson(await asProvider(providerB, 'GET', '/provider/v1/backends'), 200),
      ).toEqual({ object: 'list', data: [] });
    });
  });

  describe('PATCH /provider/v1/backends/{id}', () => {
    it.each([
      ['slots', { slots: 16 }, { slots: 16 }],
      [
        'accelerators',
        { accelerators: 8, accelerator: 'H100-80G' },
        { accelerators: 8, accelerator: 'H100-80G' },
      ],
      ['models', { models: ['m1', 'm2', 'm2'] }, { models: ['m1', 'm2'] }],
      ['region', { region: 'cn-north' }, { region: 'cn-north' }],
      ['state draining', { state: 'draining' }, { state: 'draining' }],
      [
        'several fields at once',
        { slots: 2, region: 'cn-north' },
        { slots: 2, region: 'cn-north', models: ['qwen/qwen2.5-7b'] },
      ],
    ])('changes %s and the list shows the change', async (_case, change, expected) => {
      const backend = await register(providerA);
      gateway.clock.advanceMs(minuteMs);

      const changed = await readJson<BackendBody>(
        await asProvider(providerA, 'PATCH', `/provider/v1/backends/${backend.id}`, change),
        200,
      );

      expect(changed).toMatchObject({
        id: backend.id,
        ...expected,
        created_at: startedAt,
        updated_at: '2026-11-26T09:01:00.000Z',
      });
      expect((await backendsOf(providerA))[0]).toMatchObject({ id: backend.id, ...expected });
    });

    it('takes a drained backend back with state active, shown as healthy', async () => {
      const backend = await register(providerA);
      const path = `/provider/v1/backends/${backend.id}`;
      await readJson(await asProvider(providerA, 'PATCH', path, { state: 'draining' }), 200);

      const back = await readJson<BackendBody>(
        await asProvider(providerA, 'PATCH', path, { state: 'active' }),
        200,
      );

      expect(back.state).toBe('healthy');
    });

    it.each([
      ['0 slots', { slots: 0 }, 'slots'],
      ['a state of removed', { state: 'removed' }, 'state'],
      ['a state of healthy', { state: 'healthy' }, 'state'],
      ['a bad region', { region: 'East Asia' }, 'region'],
      ['no models', { models: [] }, 'models'],
      ['a new url (urls are never changed)', { url: 'http://10.0.0.1/v1' }, 'url'],
      ['an api_key', { api_key: 'sk-new' }, 'api_key'],
    ])(
      'refuses %s (400, param %s) and leaves the backend as it was',
      async (_case, change, param) => {
        const backend = await register(providerA);

        await expectError(
          await asProvider(providerA, 'PATCH', `/provider/v1/backends/${backend.id}`, change),
          400,
          'invalid_request',
          param,
        );

        expect(await backendsOf(providerA)).toEqual([backend]);
      },
    );

    it('answers 404 not_found for an unknown backend id', async () => {
      await expectError(
        await asProvider(providerA, 'PATCH', '/provider/v1/backends/bkd_doesnotexist', {
          slots: 2,
        }),
        404,
        'not_found',
      );
    });
  });

  describe('DELETE /provider/v1/backends/{id}', () => {
    it('removes the backend: gone from both lists, then 404 on PATCH and DELETE', async () => {
      const backend = await register(providerA);
      const path = `/provider/v1/backends/${backend.id}`;

      const deleted = await readJson(await asProvider(providerA, 'DELETE', path), 200);

      expect(deleted).toEqual({ id: backend.id, object: 'backend', deleted: true });
      expect(await backendsOf(providerA)).toEqual([]);
      expect(await pool()).toEqual([]);
      await expectError(
        await asProvider(providerA, 'PATCH', path, { state: 'draining' }),
        404,
        'not_found',
      );
      await expectError(await asProvider(providerA, 'DELETE', path), 404, 'not_found');
    });

    it('takes the backend’s models out of the client catalog', async () => {
      const backend = await register(providerA);
      const clientKey = await createClientKey();

      await readJson(
        await asProvider(providerA, 'DELETE', `/provider/v1/backends/${backend.id}`),
        200,
      );

      expect(await catalogOf(clientKey)).toEqual([]);
    });
  });

  describe('one provider and another provider’s backend', () => {
    it('cannot see it, change it or remove it: 404 not_found, and it stays as it was', async () => {
      const backend = await register(providerA);
      const path = `/provider/v1/backends/${backend.id}`;

      expect(await backendsOf(providerB)).toEqual([]);
      await expectError(await asProvider(providerB, 'PATCH', path, { slots: 1 }), 404, 'not_found');
      await expectError(
        await asProvider(providerB, 'PATCH', path, { state: 'draining' }),
        404,
        'not_found',
      );
      await expectError(await asProvider(providerB, 'DELETE', path), 404, 'not_found');

      expect(await backendsOf(providerA)).toEqual([backend]);
      expect(await pool()).toEqual([backend]);
    });

    it('gets the same 404 whether its body is valid or not, so it learns nothing', async () => {
      const backend = await register(providerA);
      const path = `/provider/v1/backends/${backend.id}`;

      const foreign = await expectError(
        await asProvider(providerB, 'PATCH', path, { slots: 0 }),
        404,
        'not_found',
      );
      const unknown = await expectError(
        await asProvider(providerB, 'PATCH', '/provider/v1/backends/bkd_doesnotexist', {
          slots: 0,
        }),
        404,
        'not_found',
      );

      expect(foreign.message.replace(backend.id, '<id>')).toBe(
        unknown.message.replace('bkd_doesnotexist', '<id>'),
      );
    });
  });
});

describe('GET /admin/v1/backends', () => {
  beforeEach(async () => {
    gateway = await startInProcessGateway({ resolveHost });
  });

  it('shows the backends of every provider with provider_id, state and in_flight', async () => {
    const providerA = await createProvider('Provider A');
    const providerB = await createProvider('Provider B');
    const a = await register(providerA);
    const b = await register(providerB, {
      url: 'https://gpu-b.example.com/v1',
      region: 'cn-north',
      models: ['llama-3.1-8b'],
    });
    await readJson(
      await asProvider(providerB, 'PATCH', `/provider/v1/backends/${b.id}`, { state: 'draining' }),
      200,
    );

    const backends = await pool();

    expect(
      backends
        .map((backend) => [backend.id, backend.provider_id, backend.state, backend.in_flight])
        .sort(),
    ).toEqual(
      [
        [a.id, providerA.id, 'healthy', 0],
        [b.id, providerB.id, 'draining', 0],
      ].sort(),
    );
  });

  it('answers an empty list when no backend is registered', async () => {
    expect(await readJson(await admin('GET', '/admin/v1/backends'), 200)).toEqual({
      object: 'list',
      data: [],
      routing: {
        router: 'latency-aware',
        replicas_live: 1,
        in_flight: 0,
        retries_in_flight: 0,
        retry_budget: 3,
        waiting_for_capacity: 0,
        region_preferences: [],
      },
    });
  });
});

describe('backend URLs (SSRF) with private backends not allowed', () => {
  let provider: ProviderBody;

  beforeEach(async () => {
    gateway = await startInProcessGateway({ resolveHost });
    provider = await createProvider('Provider A');
  });

  it.each([
    ['IPv4 loopback', 'http://127.0.0.1:8000/v1'],
    ['IPv4 loopback, short form', 'http://127.1/v1'],
    ['IPv4 loopback as one decimal number', 'http://2130706433/v1'],
    ['IPv4 loopback in hex', 'http://0x7f.0.0.1/v1'],
    ['the unspecified IPv4 address', 'http://0.0.0.0/v1'],
    ['10/8', 'http://10.0.0.1/v1'],
    ['172.16/12', 'http://172.16.5.4/v1'],
    ['192.168/16', 'http://192.168.0.10/v1'],
    ['carrier-grade NAT 100.64/10', 'http://100.64.0.1/v1'],
    ['the metadata address 169.254.169.254', 'http://169.254.169.254/v1'],
    ['IPv6 loopback', 'http://[::1]:8000/v1'],
    ['the unspecified IPv6 address', 'http://[::]/v1'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/v1'],
    ['IPv4-mapped IPv6 metadata address', 'http://[::ffff:a9fe:a9fe]/v1'],
    ['NAT64 of a private address', 'http://[64:ff9b::a00:1]/v1'],
    ['IPv6 link-local', 'http://[fe80::1]/v1'],
    ['IPv6 unique local', 'http://[fd00::1]/v1'],
    ['localhost', 'http://localhost:8000/v1'],
    ['a name under .localhost', 'http://api.localhost/v1'],
    ['the GCP metadata name', 'http://metadata.google.internal/v1'],
    ['a DNS name that resolves to 10.1.2.3', 'https://gpu.internal.example.com/v1'],
    ['a DNS name with one private address among public ones', 'https://mixed.example.com/v1'],
    ['a DNS name that resolves to the metadata address', 'https://metadata-alias.example.com/v1'],
    ['a DNS name that resolves to a unique-local IPv6', 'https://v6-private.example.com/v1'],
    ['a DNS name that resolves to mapped IPv6 loopback', 'https://v6-mapped.example.com/v1'],
    ['a DNS name that does not resolve', 'https://nxdomain.example.com/v1'],
  ])('refuses %s (400 invalid_request, param url) and stores nothing', async (_case, url) => {
    await expectRegistrationRefused(provider, { ...backendA, url }, 'url');

    expect(await backendsOf(provider)).toEqual([]);
    expect(await pool()).toEqual([]);
  });

  it.each([
    ['no path', 'https://gpu.example.com'],
    ['a path past /v1', 'https://gpu.example.com/v1/chat/completions'],
    ['/v2', 'https://gpu.example.com/v2'],
    ['/v1 inside a longer segment', 'https://gpu.example.com/api/v10'],
    ['a query', 'https://gpu.example.com/v1?x=1'],
    ['a fragment', 'https://gpu.example.com/v1#frag'],
    ['credentials', 'https://user:secret@gpu.example.com/v1'],
    ['ftp', 'ftp://gpu.example.com/v1'],
    ['a file URL', 'file:///etc/passwd/v1'],
    ['not a URL at all', 'gpu.example.com/v1'],
  ])('refuses a URL with %s (400, param url)', async (_case, url) => {
    await expectRegistrationRefused(provider, { ...backendA, url }, 'url');
  });

  it('accepts a public address and a DNS name that resolves publicly', async () => {
    const byAddress = await register(provider, {
      ...backendA,
      url: `http://${publicAddress}:8000/v1`,
    });
    const byName = await register(provider, { ...backendA, url: 'https://gpu.example.com/v1' });

    expect([byAddress.url, byName.url]).toEqual([
      `http://${publicAddress}:8000/v1`,
      'https://gpu.example.com/v1',
    ]);
  });

  it.each([
    ['a loopback address', 'http://127.0.0.1:9100/metrics'],
    ['a name resolving to a private address', 'https://gpu.internal.example.com/metrics'],
    ['something that is not a URL', 'not a url'],
  ])('refuses a metrics_url at %s (400, param metrics_url)', async (_case, metricsUrl) => {
    await expectRegistrationRefused(
      provider,
      { ...backendA, metrics_url: metricsUrl },
      'metrics_url',
    );

    expect(await backendsOf(provider)).toEqual([]);
  });
});

describe('backend URLs with private backends allowed', () => {
  let provider: ProviderBody;

  beforeEach(async () => {
    gateway = await startInProcessGateway({ config: { allowPrivateBackends: true }, resolveHost });
    provider = await createProvider('Provider A');
  });

  it.each([
    'http://127.0.0.1:8000/v1',
    'http://localhost:8000/v1',
    'http://[::1]:8000/v1',
    'https://gpu.internal.example.com/v1',
  ])('accepts %s', async (url) => {
    const backend = await register(provider, { ...backendA, url });

    expect(backend).toMatchObject({ url, state: 'healthy' });
  });

  it('still refuses a URL that does not end in /v1 (400, param url)', async () => {
    await expectRegistrationRefused(
      provider,
      { ...backendA, url: 'http://127.0.0.1:8000/' },
      'url',
    );
  });
});
