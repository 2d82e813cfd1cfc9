/**
 * `tokenbank demo`: a working computing-power bank on one machine. It starts three simulated GPU
 * backends in two regions, the gateway on a fresh SQLite store, registers the backends through
 * the provider API and a demo tenant through the admin API (the same calls an operator makes),
 * then prints an API key, a curl line and an OpenAI SDK snippet that work as printed.
 */
import { rmSync } from 'node:fs';
import { newSecret } from '../../platform/identifiers.ts';
import { type ServedSimulator, serveSimulator } from '../../runtime/node/serve-simulator.ts';
import { type RunningGateway, startGateway } from '../../runtime/node/start-gateway.ts';
import { parseGatewayFlags, untilStopSignal, withUsageErrors } from '../gateway-flags.ts';

const help = `Usage: tokenbank demo [--port 8787] [--host 127.0.0.1] [--db ./data/demo.db]

Starts the gateway with three simulated GPU backends in two regions and a demo tenant.
The demo store is recreated on every start. Stop with Ctrl-C.
`;

const chatModel = 'qwen2.5-7b-instruct';
const embeddingModel = 'bge-m3';

const demoBackends = [
  { region: 'cn-east', models: [chatModel, 'llama-3.1-8b-instruct', embeddingModel], slots: 8 },
  { region: 'cn-east', models: [chatModel, 'llama-3.1-8b-instruct'], slots: 4 },
  { region: 'cn-west', models: [chatModel, embeddingModel], slots: 8 },
] as const;

const demoPrices = [
  { model: chatModel, input: '2.00', output: '6.00' },
  { model: 'llama-3.1-8b-instruct', input: '1.50', output: '4.50' },
  { model: embeddingModel, input: '0.50', output: '0.00' },
] as const;

/** A government compute voucher paying half of each charge, and a small platform promotion. */
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
] as const;

type Call = (method: string, path: string, token: string, body?: unknown) => Promise<unknown>;

function callerFor(baseUrl: string): Call {
  return async (method, path, token, body) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
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

async function seedDemo(
  gateway: RunningGateway,
  adminToken: string,
  simulators: ServedSimulator[],
) {
  const call = callerFor(gateway.url);
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
    });
  }
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
  return { tenantId, apiKey: field(key, 'key') };
}

function progress(message: string): void {
  process.stderr.write(`demo: ${message}\n`);
}

function instructions(baseUrl: string, apiKey: string, adminToken: string): string {
  return `
tokenbank demo is running: ${baseUrl}

API key (demo tenant):  ${apiKey}
Admin token:            ${adminToken}

Try it with curl:
  curl -s ${baseUrl}/v1/chat/completions -H 'Authorization: Bearer ${apiKey}' -H 'Content-Type: application/json' -d '{"model":"${chatModel}","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}'

Or with the OpenAI SDK (npm install openai; save as demo.mjs; node demo.mjs):
  import OpenAI from 'openai';
  const client = new OpenAI({ baseURL: '${baseUrl}/v1', apiKey: '${apiKey}' });
  const stream = await client.chat.completions.create({
    model: '${chatModel}', stream: true, max_tokens: 24,
    messages: [{ role: 'user', content: 'Hello' }],
  });
  for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? '');

Watch the balance and coupons move (coupons pay first, the prepaid balance after):
  curl -s ${baseUrl}/v1/account -H 'Authorization: Bearer ${apiKey}'

Admin CLI:
  TOKENBANK_URL=${baseUrl} TOKENBANK_ADMIN_TOKEN=${adminToken} npx tokenbank admin backends list

Press Ctrl-C to stop.
`;
}

export function runDemoCommand(argv: string[]): Promise<number> {
  return withUsageErrors(help, async () => {
    const adminToken = newSecret('tba');
    const { config, help: wantsHelp } = parseGatewayFlags(
      argv,
      { adminToken, allowPrivateBackends: true, autoApproveBackends: true },
      { database: './data/demo.db' },
    );
    if (wantsHelp) {
      process.stdout.write(help);
      return 0;
    }
    // Handlers first: a stop asked for while starting must still close everything cleanly.
    const stopRequested = untilStopSignal();
    for (const suffix of ['', '-wal', '-shm']) {
      rmSync(`${config.database}${suffix}`, { force: true });
    }
    const simulators: ServedSimulator[] = [];
    for (const [index, spec] of demoBackends.entries()) {
      simulators.push(
        await serveSimulator({
          simulator: {
            models: [...spec.models],
            region: spec.region,
            slots: spec.slots,
            decodeTokensPerSecond: 60,
            seed: index + 1,
          },
        }),
      );
      progress(
        `started simulated GPU backend ${index + 1}/${demoBackends.length} at ${simulators.at(-1)?.url}`,
      );
    }
    const gateway = await startGateway(config);
    progress(`gateway listening on ${gateway.url}`);
    const { apiKey } = await seedDemo(gateway, adminToken, simulators);
    process.stdout.write(instructions(gateway.url, apiKey, adminToken));
    await stopRequested;
    progress('stopping');
    await gateway.close();
    await Promise.all(simulators.map((simulator) => simulator.close()));
    return 0;
  });
}
