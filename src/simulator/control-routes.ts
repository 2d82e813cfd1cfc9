/**
 * The simulator's own endpoints, outside the OpenAI surface: health, Prometheus metrics, live
 * fault control and stats. Tests and demos drive a running simulator through these.
 */

import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { formatFaultRule, parseFaultRules } from './fault-plan.ts';
import type { SimulatorContext } from './simulator-context.ts';
import {
  invalidRequestError,
  requestTooLargeError,
  simulatorErrorResponse,
} from './simulator-error.ts';

const faultsBodySchema = z.object({ faults: z.array(z.string()).max(100) });

/** A faults list is a few short strings; anything bigger is a mistake. */
const faultsBodyBytesMax = 64 * 1024;

export function createControlRoutes(context: SimulatorContext): Hono {
  const routes = new Hono();
  routes.get('/health', (c) => c.json({ status: 'ok' }));
  routes.get('/metrics', (c) =>
    c.text(context.metrics.renderPrometheus(), 200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    }),
  );
  routes.get('/sim/stats', (c) => c.json(context.metrics.stats()));
  routes.get('/sim/faults', (c) => c.json(currentFaults(context)));
  const faultsBodyLimit = bodyLimit({
    maxSize: faultsBodyBytesMax,
    onError: () => simulatorErrorResponse(requestTooLargeError(faultsBodyBytesMax)),
  });
  routes.post('/sim/faults', faultsBodyLimit, async (c) => {
    const replaced = replaceFaults(context, await c.req.text());
    if (!replaced.ok) {
      return simulatorErrorResponse(invalidRequestError(replaced.message, 'faults'));
    }
    return c.json(currentFaults(context));
  });
  return routes;
}

function currentFaults(context: SimulatorContext): { faults: string[] } {
  return { faults: context.faultPlan.rules().map(formatFaultRule) };
}

function replaceFaults(
  context: SimulatorContext,
  bodyText: string,
): { ok: true } | { ok: false; message: string } {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return { ok: false, message: 'The body is not JSON. Send {"faults": ["KIND[:SHARE]", ...]}.' };
  }
  const parsedBody = faultsBodySchema.safeParse(body);
  if (!parsedBody.success) {
    return { ok: false, message: 'Send {"faults": ["KIND[:SHARE]", ...]} (at most 100 rules).' };
  }
  const parsedRules = parseFaultRules(parsedBody.data.faults);
  if (!parsedRules.ok) {
    return parsedRules;
  }
  context.faultPlan.replace(parsedRules.rules);
  context.logger.log('info', 'sim-faults-replaced', {
    faults: parsedRules.rules.map(formatFaultRule).join(','),
  });
  return { ok: true };
}
