/**
 * Seeds a running gateway over HTTP the way an operator would: a provider, its backends, prices,
 * tenants and keys. Shared by the integration suites so each starts from the same small pool.
 */
import { type Dispatcher, fetch as undiciFetch } from 'undici';

export type HttpCaller = (
  method: string,
  path: string,
  token: string,
  body?: unknown,
) => Promise<{ status: number; body: Record<string, unknown> }>;

export function httpCaller(baseUrl: string, dispatcher?: Dispatcher): HttpCaller {
  return async (method, path, token, body) => {
    const init = {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    };
    // Node's own fetch takes no dispatcher of the project's undici: that one's fetch then.
    const response =
      dispatcher === undefined
        ? await fetch(`${baseUrl}${path}`, init)
        : await undiciFetch(`${baseUrl}${path}`, { ...init, dispatcher });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
}

/** Calls and insists on a 2xx answer, returning its body. */
export async function expectOk(
  call: HttpCaller,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const response = await call(method, path, token, body);
  if (response.status >= 300) {
    throw new Error(
      `${method} ${path} answered ${response.status}: ${JSON.stringify(response.body)}`,
    );
  }
  return response.body;
}

export function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string') {
    throw new Error(`expected a string '${name}' in ${JSON.stringify(body)}`);
  }
  return value;
}

export type BackendSpec = {
  url: string;
  region: string;
  models: string[];
  slots?: number;
  accelerators?: number;
};

/** Registers a provider with the given backends; returns its token and the backend ids. */
export async function registerProvider(
  call: HttpCaller,
  adminToken: string,
  backends: BackendSpec[],
): Promise<{ providerToken: string; backendIds: string[] }> {
  const provider = await expectOk(call, 'POST', '/admin/v1/providers', adminToken, {
    name: 'test provider',
    payout_bps: 8000,
  });
  const providerToken = stringField(provider, 'token');
  const backendIds: string[] = [];
  for (const backend of backends) {
    const created = await expectOk(call, 'POST', '/provider/v1/backends', providerToken, backend);
    backendIds.push(stringField(created, 'id'));
  }
  return { providerToken, backendIds };
}

/** Creates a tenant and one key for it; returns the tenant id and the key. */
export async function createTenantWithKey(
  call: HttpCaller,
  adminToken: string,
  tenant: Record<string, unknown>,
  key: Record<string, unknown> = {},
): Promise<{ tenantId: string; keyId: string; apiKey: string }> {
  const created = await expectOk(call, 'POST', '/admin/v1/tenants', adminToken, tenant);
  const tenantId = stringField(created, 'id');
  const issued = await expectOk(
    call,
    'POST',
    `/admin/v1/tenants/${tenantId}/keys`,
    adminToken,
    key,
  );
  return { tenantId, keyId: stringField(issued, 'id'), apiKey: stringField(issued, 'key') };
}

/** Publishes a price for each model (per 1M tokens, in the deployment currency). */
export async function priceModels(
  call: HttpCaller,
  adminToken: string,
  models: readonly string[],
  price: { input: string; output: string } = { input: '1.00', output: '2.00' },
): Promise<void> {
  for (const model of models) {
    await expectOk(call, 'PUT', `/admin/v1/prices/${model}`, adminToken, price);
  }
}

/** Credits a tenant's wallet; the reference makes it happen once. */
export async function topUp(
  call: HttpCaller,
  adminToken: string,
  tenantId: string,
  amount: string,
  reference = `topup-${tenantId}-${amount}`,
): Promise<Record<string, unknown>> {
  return expectOk(call, 'POST', `/admin/v1/tenants/${tenantId}/topups`, adminToken, {
    amount,
    reference,
  });
}

/** Grants a tenant a coupon (`kind`, `amount`, `reference` and the rest as the API takes them). */
export function grantCoupon(
  call: HttpCaller,
  adminToken: string,
  tenantId: string,
  grant: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  return expectOk(call, 'POST', `/admin/v1/tenants/${tenantId}/coupons`, adminToken, grant);
}
