/**
 * The gateways in the ledger's property suite: a gateway's crash (a new instance in its slot)
 * and the sweeper, which ends what dead gateways left and, at the end of a sequence, everything
 * still open.
 */
import { expect } from 'vitest';
import { expectAgreement } from '../expect-agreement.ts';
import { backends, gatewaySlots } from '../fixed-world.ts';
import {
  type LedgerCommand,
  type Model,
  openReservations,
  pick,
  type World,
} from '../reference-model.ts';
import { releaseInModel, settleInModel } from '../settle-in-model.ts';

/** A gateway dies (kill -9): its instance stops heartbeating and a new one starts in its slot. */
export class Crash implements LedgerCommand {
  constructor(readonly slot: number) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    const slot = this.slot % gatewaySlots;
    const generation = Number(pick(model.gateways, slot).split('-').at(-1)) + 1;
    const restarted = `gateway-${slot}-${generation}`;
    model.gateways[slot] = restarted;
    await world.ledger.heartbeat(restarted, model.nowMs);
    model.heartbeats.set(restarted, model.nowMs);
    await expectAgreement(model, world);
  }

  toString(): string {
    return `crash(gateway ${this.slot % gatewaySlots})`;
  }
}

/**
 * The sweeper ends what a dead gateway left, and only that: while the gateways live they
 * heartbeat first, and their requests, however old, are theirs to end. With `gatewaysAlive`
 * false every gateway has stopped, and everything still open is swept.
 */
export async function sweepBoth(model: Model, world: World, gatewaysAlive: boolean): Promise<void> {
  if (gatewaysAlive) {
    for (const instanceId of model.gateways) {
      await world.ledger.heartbeat(instanceId, model.nowMs);
      model.heartbeats.set(instanceId, model.nowMs);
    }
  }
  const ownerSilentBeforeMs = gatewaysAlive ? model.nowMs : model.nowMs + 1;
  const orphaned = openReservations(model)
    .filter(
      (reservation) =>
        (model.heartbeats.get(reservation.instanceId) ?? Number.NEGATIVE_INFINITY) <
        ownerSilentBeforeMs,
    )
    .sort((left, right) => left.admittedAtMs - right.admittedAtMs);
  // No gateway's own hold outlives its deadline in the model: the overdue part finds nothing.
  const swept = await world.ledger.sweep({
    atMs: model.nowMs,
    ownerSilentBeforeMs,
    overdue: { instanceId: 'no-such-gateway', admittedBeforeMs: 0 },
  });
  for (const reservation of orphaned) {
    const checkpoint = reservation.checkpoint;
    const backend = backends.find((candidate) => candidate.id === checkpoint?.backendId);
    if (checkpoint && backend) {
      settleInModel(
        model,
        reservation,
        {
          inputTokens: checkpoint.inputTokens,
          cachedInputTokens: 0,
          outputTokens: checkpoint.outputTokens,
        },
        backend,
        reservation.price,
        'gateway_crash',
      );
    } else {
      releaseInModel(model, reservation, 'gateway_crash');
    }
  }
  expect(swept).toBe(orphaned.length);
}

export class Sweep implements LedgerCommand {
  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    model.nowMs += 1;
    await sweepBoth(model, world, true);
    await expectAgreement(model, world);
  }

  toString(): string {
    return 'sweep()';
  }
}
