/**
 * What a Worker isolate learns of the backends, as a Node replica does on its timers: while it
 * serves requests it scrapes each backend's metrics page at most once per
 * `metricsScrapeIntervalMs` (after the response), so its router weighs the load the backend
 * reports and the round trip from where the isolate runs. Shown as on Node, in
 * `GET /admin/v1/backends`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, type HttpCaller, httpCaller } from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import { pollUntil } from './support/poll-until.ts';
import { seedPool } from './support/seeded-pool.ts';
import {
  startWorkersRuntime,
  suiteVariables,
  type WorkersRuntime,
} from './support/workers-runtime.ts';

const model = 'sim-chat';
const adminToken = `tba-${'m'.repeat(32)}`;
const simulator = fastSimulatorForFile({ models: [model], region: 'east' });

let runtime: WorkersRuntime | undefined;
let call: HttpCaller;

beforeAll(async () => {
  runtime = await startWorkersRuntime(
    suiteVariables(adminToken, {
      TOKENBANK_LIMITS: JSON.stringify({
        metricsScrapeIntervalMs: 50,
        metricsScrapeOriginIntervalMs: 50,
        metricsStaleMs: 60_000,
      }),
    }),
  );
  call = httpCaller(runtime.url);
  await seedPool(call, adminToken, {
    backends: [{ url: simulator().url, region: 'east', models: [model] }],
    tenants: [],
  });
}, 120_000);

afterAll(async () => {
  await runtime?.close();
});

type RoutingView = { scraped: { engine: string | null; scraped_at: string | null } | null };

describe('a Worker isolate’s view of the backends', () => {
  it('scrapes each backend’s load while it serves requests', async () => {
    const scraped = await pollUntil(async () => {
      // Each read is a request of the isolate: the scrape runs after it once due.
      const view = await expectOk(call, 'GET', '/admin/v1/backends', adminToken);
      const [backend] = view.data as { routing: RoutingView | null }[];
      return backend?.routing?.scraped ?? undefined;
    }, 'the backend scraped by the isolate');
    expect(scraped.engine).toBe('vllm');
    expect(scraped.scraped_at).toEqual(expect.any(String));
  });
});
