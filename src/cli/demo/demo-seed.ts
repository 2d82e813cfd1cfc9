/**
 * What the demo puts in its store, through the same HTTP calls an operator and a provider make:
 * a provider whose backends are the simulators, a price per model (the embedding model's with an
 * off-peak window open while the demo is young), a price for each of the storage and transport
 * meters, and a demo tenant (home cn-east) with a prepaid balance, a government compute voucher, a
 * welcome coupon, a transport coupon, a storage coupon and an API key. The README's numbers come
 * from exactly these values (test/readme.test.ts checks them).
 */
import type { ServedSimulator } from '../../runtime/node/serve-simulator.ts';

export const chatModel = 'qwen2.5-7b-instruct';
const secondChatModel = 'llama-3.1-8b-instruct';
const embeddingModel = 'bge-m3';
/** Served in cn-west only: a cn-east tenant's request for it crosses regions and pays transport. */
const westOnlyModel = 'qwen2.5-14b-instruct';

export const demoBackends = [
  { region: 'cn-east', models: [chatModel, secondChatModel, embeddingModel], slots: 8 },
  { region: 'cn-east', models: [chatModel, secondChatModel], slots: 4 },
  { region: 'cn-west', models: [chatModel, embeddingModel, westOnlyModel], slots: 8 },
] as const;

const demoPrices = [
  { model: chatModel, input: '2.00', output: '6.00' },
  { model: secondChatModel, input: '1.50', output: '4.50' },
  { model: embeddingModel, input: '0.50', output: '0.00' },
  { model: westOnlyModel, input: '3.00', output: '9.00' },
] as const;

/**
 * The storage and transport meters' prices, of the order of a cloud's object storage and
 * inter-region traffic: 0.0002 per GB-hour (about 0.15 a GB-month), 0.50 per GB carried.
 */
const demoMeterPrices = [
  { path: '/admin/v1/meters/storage', body: { storage_gb_hour: '0.0002' } },
  { path: '/admin/v1/meters/transport', body: { transport_gb: '0.50' } },
] as const;

/** Hours of the off-peak window the demo opens on the embedding model, from its start. */
const offpeakWindowHours = 8;

/**
 * An off-peak window on the embedding model's price covering the demo's first hours (UTC, from
 * the hour it started), at half price: a batch submitted to the demo runs in it at once, and
 * shows what cross-cycle work saves. Real windows are nights in the provider's time zone.
 */
function demoOffpeak(nowMs: number) {
  const startHour = new Date(nowMs).getUTCHours();
  const clock = (hour: number) => `${String(hour % 24).padStart(2, '0')}:00`;
  return {
    start: clock(startHour),
    end: clock(startHour + offpeakWindowHours),
    timezone: 'UTC',
    multiplier_bps: 5_000,
  };
}

/**
 * A government compute voucher paying half of each compute charge, a welcome coupon for one model,
 * and a coupon of each other kind: a cross-region transport credit and a storage voucher.
 */
const demoCoupons = [
  {
    kind: 'compute',
    amount: '20.00',
    coverage_bps: 5000,
    program: 'sme-compute-voucher-2026',
    reference: 'demo-gov-voucher',
  },
  {
    kind: 'compute',
    amount: '1.00',
    models: [chatModel],
    priority: 10,
    program: 'welcome-promo',
    reference: 'demo-welcome',
  },
  {
    kind: 'transport',
    amount: '5.00',
    program: 'east-data-west-compute-2026',
    reference: 'demo-transport-credit',
  },
  {
    kind: 'storage',
    amount: '2.00',
    program: 'sme-storage-voucher-2026',
    reference: 'demo-storage-voucher',
  },
] as const;

type Call = (method: string, path: string, token: string, body?: unknown) => Promise<unknown>;

/** Each setup call has this long to answer; the gateway is on the same machine. */
const setupCallTimeoutMs = 10_000;

function callerFor(baseUrl: string): Call {
  return async (method, path, token, body) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(setupCallTimeoutMs),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`demo setup: ${method} ${path} answered ${response.status}: ${text}`);
    }
    return JSON.parse(text) as unknown;
  };
}

function field(value: unknown, name: string): string {
  const found = (value as Record<string, unknown> | null)?.[name];
  if (typeof found !== 'string') {
    throw new Error(`demo setup: the answer has no string field '${name}'`);
  }
  return found;
}

async function registerSupply(
  call: Call,
  adminToken: string,
  simulators: readonly ServedSimulator[],
  progress: (message: string) => void,
): Promise<string> {
  const provider = await call('POST', '/admin/v1/providers', adminToken, {
    name: 'Demo GPU provider',
    payout_bps: 8000,
  });
  const providerToken = field(provider, 'token');
  for (const [index, simulator] of simulators.entries()) {
    const spec = demoBackends[index];
    await call('POST', '/provider/v1/backends', providerToken, {
      url: simulator.url,
      region: spec?.region,
      models: spec?.models,
      slots: spec?.slots,
      metrics_url: `${simulator.origin}/metrics`,
    });
    progress(`registered backend ${index + 1}/${simulators.length} (${spec?.region})`);
  }
  for (const price of demoPrices) {
    await call('PUT', `/admin/v1/prices/${price.model}`, adminToken, {
      input: price.input,
      output: price.output,
      ...(price.model === embeddingModel ? { offpeak: demoOffpeak(Date.now()) } : {}),
    });
  }
  for (const meterPrice of demoMeterPrices) {
    await call('PUT', meterPrice.path, adminToken, meterPrice.body);
  }
  return providerToken;
}

/**
 * Registers the simulators and the demo tenant; returns the tenant's API key and the demo
 * provider's token (both sign in to the web console).
 */
export async function seedDemo(options: {
  baseUrl: string;
  adminToken: string;
  simulators: readonly ServedSimulator[];
  progress: (message: string) => void;
}): Promise<{ tenantId: string; apiKey: string; providerToken: string }> {
  const { adminToken } = options;
  const call = callerFor(options.baseUrl);
  const providerToken = await registerSupply(
    call,
    adminToken,
    options.simulators,
    options.progress,
  );
  const tenant = await call('POST', '/admin/v1/tenants', adminToken, {
    name: 'Demo SME',
    home_region: 'cn-east',
  });
  const tenantId = field(tenant, 'id');
  await call('POST', `/admin/v1/tenants/${tenantId}/topups`, adminToken, {
    amount: '50.00',
    reference: 'demo-prepaid',
  });
  for (const coupon of demoCoupons) {
    await call('POST', `/admin/v1/tenants/${tenantId}/coupons`, adminToken, coupon);
  }
  const key = await call('POST', `/admin/v1/tenants/${tenantId}/keys`, adminToken, {
    name: 'demo key',
  });
  return { tenantId, apiKey: field(key, 'key'), providerToken };
}
