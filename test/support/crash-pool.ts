/**
 * The pool the crash suites kill gateways in front of: a slow simulator (streams that last long
 * enough to be cut) and a fast one, both in one region, behind a real gateway process, with one
 * tenant funded by a small coupon and a prepaid balance.
 */
import { expectOk, type HttpCaller, topUp } from './demo-pool.ts';
import { firstTenant, seedPool, startGatewayWithSimulators } from './seeded-pool.ts';
import type { GatewayProcess } from './spawn-gateway.ts';
import type { SimulatorProcess } from './spawn-simulator.ts';

export type CrashPoolOptions = {
  adminToken: string;
  models: { slow: string; fast: string };
  slowSlots: number;
  slowDecodeTokensPerSecond: number;
  gatewayEnvironment: Record<string, string>;
  /** The gateway's store: a fresh SQLite file by default, or a postgres:// URL. */
  databasePath?: string;
  tenantName: string;
  coupon: { amount: string; reference: string };
  prepaid: string;
};

export type CrashPool = {
  slow: SimulatorProcess;
  fast: SimulatorProcess;
  gateway: GatewayProcess;
  call: HttpCaller;
  tenantId: string;
  apiKey: string;
};

export async function startCrashPool(options: CrashPoolOptions): Promise<CrashPool> {
  const { adminToken, models } = options;
  const started = await startGatewayWithSimulators({
    adminToken,
    simulators: {
      slow: [
        '--region',
        'east',
        '--models',
        models.slow,
        '--slots',
        String(options.slowSlots),
        '--decode-tps',
        String(options.slowDecodeTokensPerSecond),
      ],
      fast: [
        '--region',
        'east',
        '--models',
        models.fast,
        '--decode-tps',
        '20000',
        '--prefill-tps',
        '1000000',
      ],
    },
    environment: options.gatewayEnvironment,
    ...(options.databasePath === undefined ? {} : { databasePath: options.databasePath }),
  });
  const { gateway, call } = started;
  const { slow, fast } = started.simulators;
  const tenant = firstTenant(
    await seedPool(call, adminToken, {
      backends: [
        { url: slow.url, region: 'east', models: [models.slow], slots: options.slowSlots },
        { url: fast.url, region: 'east', models: [models.fast], slots: 8 },
      ],
      price: { input: '30.00', output: '70.00' },
      tenants: [{ tenant: { name: options.tenantName } }],
    }),
  );
  // A coupon smaller than one round's holds: the rounds spend it, then the wallet.
  await expectOk(call, 'POST', `/admin/v1/tenants/${tenant.tenantId}/coupons`, adminToken, {
    kind: 'compute',
    ...options.coupon,
  });
  await topUp(call, adminToken, tenant.tenantId, options.prepaid);
  return { slow, fast, gateway, call, tenantId: tenant.tenantId, apiKey: tenant.apiKey };
}
