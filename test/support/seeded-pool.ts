/**
 * The setup most integration suites share: a gateway (a real process, or the in-process app)
 * in front of simulators, seeded over its API as an operator would: one provider with its
 * backends, a price for every model they serve, and tenants each with a key and a top-up. Kept
 * in one place (Unkey's shared test harness does the same) so that a suite's `beforeAll` says
 * only what makes its pool different.
 */
import {
  type BackendSpec,
  createTenantWithKey,
  type HttpCaller,
  httpCaller,
  priceModels,
  registerProvider,
  topUp,
} from './demo-pool.ts';
import {
  type GatewayProcess,
  type StartGatewayOptions,
  startGatewayProcess,
} from './spawn-gateway.ts';
import { type SimulatorProcess, startSimulatorProcess } from './spawn-simulator.ts';

export type TenantSeed = {
  /** The tenant's fields (`name`, `home_region`, ...). */
  tenant: Record<string, unknown>;
  /** The fields of its one key (`models`, limits, ...). */
  key?: Record<string, unknown>;
  /** The amount to credit its wallet with; none when left out. */
  topUp?: string;
};

export type PoolSeed = {
  backends: readonly BackendSpec[];
  /** The models to price; every model the backends serve, in order, when left out. */
  models?: readonly string[];
  /** Per 1M tokens; demo-pool's default price when left out. */
  price?: { input: string; output: string };
  /** Created in order, each with its key and then its top-up. */
  tenants: readonly TenantSeed[];
};

export type SeededTenant = { tenantId: string; keyId: string; apiKey: string };

export type SeededPool = {
  providerToken: string;
  /** In the order of the seed's backends. */
  backendIds: string[];
  /** In the order of the seed's tenants. */
  tenants: SeededTenant[];
};

/** Every model the backends serve, each once, in the order they first appear. */
function servedModels(backends: readonly BackendSpec[]): string[] {
  return [...new Set(backends.flatMap((backend) => backend.models))];
}

export async function seedPool(
  call: HttpCaller,
  adminToken: string,
  seed: PoolSeed,
): Promise<SeededPool> {
  const { providerToken, backendIds } = await registerProvider(call, adminToken, [
    ...seed.backends,
  ]);
  await priceModels(call, adminToken, seed.models ?? servedModels(seed.backends), seed.price);
  const tenants: SeededTenant[] = [];
  for (const tenantSeed of seed.tenants) {
    const created = await createTenantWithKey(call, adminToken, tenantSeed.tenant, tenantSeed.key);
    if (tenantSeed.topUp !== undefined) {
      await topUp(call, adminToken, created.tenantId, tenantSeed.topUp);
    }
    tenants.push(created);
  }
  return { providerToken, backendIds, tenants };
}

/** The first tenant of a seeded pool: the one most suites have. */
export function firstTenant(pool: SeededPool): SeededTenant {
  const [tenant] = pool.tenants;
  if (tenant === undefined) {
    throw new Error('the pool was seeded without a tenant');
  }
  return tenant;
}

export type GatewayWithSimulatorsOptions<Name extends string> = {
  adminToken: string;
  /** `tokenbank sim` arguments by the name the suite calls each simulator. */
  simulators: Record<Name, string[]>;
  /** Limits over the defaults, as TOKENBANK_LIMITS. */
  limits?: Record<string, unknown>;
  /** More of the gateway's environment, over the above. */
  environment?: Record<string, string>;
  /** The gateway's store: a fresh SQLite file by default, or a postgres:// URL. */
  databasePath?: string;
};

export type GatewayWithSimulators<Name extends string> = {
  gateway: GatewayProcess;
  simulators: Record<Name, SimulatorProcess>;
  call: HttpCaller;
  /** Stops the gateway and every simulator. */
  stop(): Promise<void>;
};

/**
 * A `tokenbank serve` process and its simulators, started together; the gateway may reach
 * backends on loopback, as every suite's simulators are. When one fails to start, the others are
 * stopped before the error is thrown, so no process outlives a failed `beforeAll`.
 */
export async function startGatewayWithSimulators<Name extends string>(
  options: GatewayWithSimulatorsOptions<Name>,
): Promise<GatewayWithSimulators<Name>> {
  const environment: Record<string, string> = { TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1' };
  if (options.limits !== undefined) {
    environment.TOKENBANK_LIMITS = JSON.stringify(options.limits);
  }
  Object.assign(environment, options.environment);
  const gatewayOptions: StartGatewayOptions = { adminToken: options.adminToken, environment };
  if (options.databasePath !== undefined) {
    gatewayOptions.databasePath = options.databasePath;
  }
  const names = Object.keys(options.simulators) as Name[];
  const starting = [
    startGatewayProcess(gatewayOptions),
    ...names.map((name) => startSimulatorProcess(options.simulators[name])),
  ] as const;
  const settled = await Promise.allSettled(starting);
  const started = settled.flatMap((result) =>
    result.status === 'fulfilled' ? [result.value] : [],
  );
  const failure = settled.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await Promise.all(started.map((child) => child.stop()));
    throw failure.reason;
  }
  const [gateway, ...simulatorList] = started as [GatewayProcess, ...SimulatorProcess[]];
  const simulators = Object.fromEntries(
    names.map((name, index) => [name, simulatorList[index]]),
  ) as Record<Name, SimulatorProcess>;
  return {
    gateway,
    simulators,
    call: httpCaller(gateway.url),
    stop: async () => {
      await Promise.all(started.map((child) => child.stop()));
    },
  };
}
