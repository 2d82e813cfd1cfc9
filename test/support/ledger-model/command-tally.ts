/**
 * With LEDGER_PROPERTY_STATS=1, the ledger's property suite counts what its sequences exercised
 * (commands, payers, endings, refusals) and prints the tally at the end, to see that the
 * generators reach the cases they are meant to.
 */
import { couponNamed, type LedgerCommand, type Model } from './reference-model.ts';

const tally = new Map<string, number>();
export const tallyWanted = process.env.LEDGER_PROPERTY_STATS === '1';

export function count(what: string): void {
  tally.set(what, (tally.get(what) ?? 0) + 1);
}

export function tallied(command: LedgerCommand): LedgerCommand {
  return {
    check: (model) => command.check(model),
    run: async (model, world) => {
      count(`command ${command.toString().split('(')[0]}`);
      await command.run(model, world);
    },
    toString: () => command.toString(),
  };
}

export function tallyEndings(model: Model): void {
  for (const reservation of model.reservations) {
    const payers = new Set(reservation.ending?.paidBy.map((payer) => payer.kind));
    if (reservation.transport !== null) {
      count('reserved with transport');
    }
    if (
      reservation.holds.some(
        (hold) => hold.couponId !== null && couponNamed(model, hold.couponId).kind === 'transport',
      )
    ) {
      count('held by a transport coupon');
    }
    count(
      `${reservation.status}${reservation.ending?.outcome === 'gateway_crash' ? ' by the sweeper' : ''}`,
    );
    for (const payer of payers) {
      count(`settled with ${payer}`);
    }
  }
  for (const _rejected of model.rejected) {
    count('refused');
  }
}

/** Prints the tally, when it is wanted. */
export function printTally(): void {
  if (tallyWanted) {
    console.log(new Map([...tally].sort()));
  }
}
