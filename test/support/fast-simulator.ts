/**
 * One fast in-process simulator for a whole test file: started before its first test, closed
 * after its last. Prefill and decode are fast enough that a test waits on the gateway, never on
 * the fake GPU. Use the getter inside tests and hooks (it throws before the simulator is up).
 */
import { afterAll, beforeAll } from 'vitest';
import { type ServedSimulator, serveSimulator } from '../../src/runtime/node/serve-simulator.ts';
import type { SimulatorOptionsInput } from '../../src/simulator/simulator-options.ts';

export function fastSimulatorForFile(options: SimulatorOptionsInput): () => ServedSimulator {
  let served: ServedSimulator | undefined;
  beforeAll(async () => {
    served = await serveSimulator({
      simulator: { prefillTokensPerSecond: 1_000_000, decodeTokensPerSecond: 20_000, ...options },
    });
  });
  afterAll(async () => {
    await served?.close();
  });
  return () => {
    if (served === undefined) {
      throw new Error('the simulator is used before beforeAll started it');
    }
    return served;
  };
}
