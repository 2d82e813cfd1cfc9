/**
 * The money of the durable-ledger floor (floor-proxy.ts with a ledger): an in-memory balance per
 * bearer key checked before forwarding, one reservation row written before forwarding and one
 * settlement row before answering, both through the ledger's own group commit (one transaction
 * per event-loop turn, src/runtime/node/sqlite/group-commit.ts) on SQLite in WAL mode with
 * `synchronous = NORMAL` and prepared statements. It is what keeping money durable before
 * answering costs on this machine, so the bench can tell that cost from tokenbank's own work.
 */
import Database from 'better-sqlite3';
import { createGroupCommit } from '../../src/runtime/node/sqlite/group-commit.ts';
import { createLedgerEffects } from '../../src/runtime/node/sqlite/ledger-effects.ts';
import type { FloorHold, FloorLedger } from './floor-proxy.ts';

/** Micro-units held per request: 0.01, far above what one mock answer costs. */
const holdMicros = 10_000n;
/** Every key starts rich enough that the bench never runs it down. */
const startingBalanceMicros = 100_000_000_000_000n;
const inputMicrosPerToken = 1n;
const outputMicrosPerToken = 2n;

type Usage = { prompt_tokens?: number; completion_tokens?: number };

function usageOf(answerBytes: Uint8Array): Usage {
  const answer = JSON.parse(Buffer.from(answerBytes).toString('utf8')) as { usage?: Usage };
  return answer.usage ?? {};
}

function refusal(): Response {
  const error = { message: 'insufficient balance', type: 'insufficient_quota' };
  return Response.json({ error }, { status: 402 });
}

export function openDurableLedger(databasePath: string): FloorLedger {
  const connection = new Database(databasePath);
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = NORMAL');
  connection.exec(`
    create table if not exists reservations (
      id integer primary key, account text not null, hold integer not null,
      reserved_at_ms integer not null);
    create table if not exists settlements (
      reservation_id integer primary key, cost integer not null, prompt_tokens integer,
      completion_tokens integer, settled_at_ms integer not null);`);
  const insertReservation = connection.prepare(
    'insert into reservations (account, hold, reserved_at_ms) values (?, ?, ?)',
  );
  const insertSettlement = connection.prepare('insert into settlements values (?, ?, ?, ?, ?)');
  const commit = createGroupCommit(connection, {
    batched: true,
    effects: createLedgerEffects(),
    writeDeferred: () => {},
  });
  const balances = new Map<string, bigint>();
  const credit = (account: string, amount: bigint) =>
    balances.set(account, (balances.get(account) ?? startingBalanceMicros) + amount);

  return {
    async reserve(account) {
      if ((balances.get(account) ?? startingBalanceMicros) < holdMicros) {
        return refusal();
      }
      credit(account, -holdMicros);
      try {
        const id = await commit(
          () => insertReservation.run(account, holdMicros, Date.now()).lastInsertRowid,
        );
        return { id, account, amount: holdMicros };
      } catch (error) {
        credit(account, holdMicros);
        throw error;
      }
    },
    async settle(hold: FloorHold, answerBytes) {
      const usage = answerBytes === undefined ? undefined : usageOf(answerBytes);
      const promptTokens = usage?.prompt_tokens;
      const completionTokens = usage?.completion_tokens;
      const cost =
        promptTokens === undefined || completionTokens === undefined
          ? hold.amount
          : BigInt(promptTokens) * inputMicrosPerToken +
            BigInt(completionTokens) * outputMicrosPerToken;
      await commit(() =>
        insertSettlement.run(hold.id, cost, promptTokens, completionTokens, Date.now()),
      );
      credit(hold.account, hold.amount - cost);
    },
  };
}
