/**
 * The copy of a tenant object's usage records to D1 (src/runtime/workers/ledger/usage-copy.ts),
 * on two real SQLite databases with drizzle/'s schema, one standing for the object's storage and
 * one for D1 (the same SQLite, so the same ON CONFLICT and the same daily-totals trigger): it
 * copies in insertion order, a batch at a time; a batch D1 applied whose mark the object did not
 * write (evicted between the two) is sent again and changes nothing, neither the records nor the
 * day's totals; and a batch D1 refused leaves the mark where it was.
 */
import type { Database } from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { migrateSqlite, openSqlite } from '../src/runtime/node/sqlite/sqlite-database.ts';
import type { DurableSql, SqlParameter } from '../src/runtime/workers/durable-sql.ts';
import { bound } from '../src/runtime/workers/durable-sql.ts';
import {
  type CopyMark,
  copyForOneRing,
  createUsageCopy,
  type UsageCopy,
} from '../src/runtime/workers/ledger/usage-copy.ts';
import type {
  D1Database,
  D1PreparedStatement,
  SqlStorageValue,
} from '../src/runtime/workers/workers-types.ts';

function migratedConnection(): Database {
  const opened = openSqlite(':memory:');
  migrateSqlite(opened);
  return opened.connection;
}

/** The object's storage as the copy reads it. */
function sqlOver(connection: Database): DurableSql {
  const values = (parameters: SqlParameter[]) => parameters.map(bound);
  return {
    all: (query, ...parameters) =>
      connection.prepare(query).all(...values(parameters)) as Record<string, SqlStorageValue>[],
    first: (query, ...parameters) =>
      connection.prepare(query).get(...values(parameters)) as
        | Record<string, SqlStorageValue>
        | undefined,
    run: (query, ...parameters) => {
      connection.prepare(query).run(...values(parameters));
    },
  };
}

/** D1's binding over a SQLite connection: a batch is one transaction, as D1 runs it. */
function d1Over(connection: Database, refusing: () => boolean): D1Database {
  const statement = (query: string, values: SqlStorageValue[]): D1PreparedStatement => ({
    bind: (...more) => statement(query, [...values, ...more]),
    run: async () => connection.prepare(query).run(...values),
    all: async () => ({
      results: connection.prepare(query).all(...values) as Record<string, SqlStorageValue>[],
    }),
    first: async () =>
      (connection.prepare(query).get(...values) as Record<string, SqlStorageValue>) ?? null,
    raw: async () =>
      connection
        .prepare(query)
        .raw()
        .all(...values) as SqlStorageValue[][],
  });
  return {
    prepare: (query) => statement(query, []),
    batch: async (statements) => {
      if (refusing()) {
        throw new Error('D1_ERROR: no such table: usage_records');
      }
      return connection.transaction(() => statements.map((each) => each.run()))();
    },
  };
}

const dayMs = 86_400_000;

function insertRecord(connection: Database, index: number): void {
  connection
    .prepare(
      `INSERT INTO usage_records (request_id, tenant_id, key_id, model, outcome, cost,
         provider_share, paid_by, input_tokens, output_tokens, created_at_ms, settled_at_ms)
       VALUES (?, 'ten_a', 'key_a', 'sim-chat', 'completed', ?, 0, '[]', 10, 20, ?, ?)`,
    )
    .run(
      `req_${String(index).padStart(4, '0')}`,
      1_000 + index,
      3 * dayMs + index,
      3 * dayMs + index,
    );
}

type Step = { kind: 'write'; count: number } | { kind: 'copy'; loseMark: boolean; refuse: boolean };

const steps = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('write' as const), count: fc.integer({ min: 1, max: 7 }) }),
    fc.record({ kind: fc.constant('copy' as const), loseMark: fc.boolean(), refuse: fc.boolean() }),
  ),
  { maxLength: 30 },
);

describe('the usage copy to D1', () => {
  it('ends with every record once, and the day’s totals counting each once, whatever is lost or refused', async () => {
    await fc.assert(
      fc.asyncProperty(steps, fc.integer({ min: 1, max: 5 }), async (plan: Step[], batchMax) => {
        const object = migratedConnection();
        const d1 = migratedConnection();
        let refuse = false;
        let markedRowid = 0;
        let loseNextMark = false;
        const mark: CopyMark = {
          read: async () => markedRowid,
          write: async (rowid) => {
            if (loseNextMark) {
              loseNextMark = false;
              throw new Error('the object was evicted before it noted the copy');
            }
            markedRowid = rowid;
          },
        };
        const copy = createUsageCopy(
          sqlOver(object),
          d1Over(d1, () => refuse),
          mark,
        );
        let written = 0;
        for (const step of plan) {
          if (step.kind === 'write') {
            for (let index = 0; index < step.count; index += 1) {
              insertRecord(object, written);
              written += 1;
            }
            continue;
          }
          refuse = step.refuse;
          loseNextMark = step.loseMark;
          const markBefore = markedRowid;
          await copy.copyBatch(batchMax).catch(() => undefined);
          if (step.refuse || step.loseMark) {
            expect(markedRowid).toBe(markBefore);
          }
        }
        refuse = false;
        loseNextMark = false;
        while ((await copy.copyBatch(batchMax)) > 0) {
          // Until the copy catches up.
        }
        expect(await copy.pending()).toBe(false);
        const ids = d1.prepare('SELECT request_id FROM usage_records ORDER BY rowid').all();
        expect(ids).toEqual(
          Array.from({ length: written }, (_unused, index) => ({
            request_id: `req_${String(index).padStart(4, '0')}`,
          })),
        );
        const totals = d1.prepare('SELECT requests, cost FROM usage_daily').all();
        const cost = Array.from({ length: written }, (_unused, index) => 1_000 + index).reduce(
          (total, each) => total + each,
          0,
        );
        expect(totals).toEqual(written === 0 ? [] : [{ requests: written, cost }]);
      }),
      { seed: 15, numRuns: 60 },
    );
  });
});

describe('one ring of the copy', () => {
  const limits = { usageCopyBatchMax: 5, usageCopyRetryMs: 30_000 };
  const quiet = { log: () => undefined };

  /** A copy with `records` waiting, copying a batch at a time, refusing while `refusing`. */
  function waitingCopy(records: number, refusing = false) {
    let left = records;
    let batches = 0;
    const copy: UsageCopy = {
      pending: async () => left > 0,
      copyBatch: async (batchMax) => {
        if (refusing) {
          throw new Error('D1_ERROR: no such table: usage_records');
        }
        batches += 1;
        const copied = Math.min(batchMax, left);
        left -= copied;
        return copied;
      },
    };
    return { copy, left: () => left, batches: () => batches };
  }

  it('copies everything waiting when it fits in the ring, and asks for no other ring', async () => {
    const waiting = waitingCopy(12);
    expect(await copyForOneRing(waiting.copy, limits, 1_000, quiet)).toBeUndefined();
    expect(waiting.left()).toBe(0);
    expect(waiting.batches()).toBe(3);
  });

  it('stops after twenty batches and asks to ring again at once', async () => {
    const waiting = waitingCopy(1_000);
    expect(await copyForOneRing(waiting.copy, limits, 1_000, quiet)).toBe(1_001);
    expect(waiting.batches()).toBe(20);
    expect(waiting.left()).toBe(900);
  });

  it('logs a refusal and asks again after the retry pause', async () => {
    const logged: string[] = [];
    const waiting = waitingCopy(3, true);
    const logger = { log: (_level: string, event: string) => logged.push(event) };
    expect(await copyForOneRing(waiting.copy, limits, 1_000, logger)).toBe(31_000);
    expect(waiting.left()).toBe(3);
    expect(logged).toEqual(['usage_copy_failed']);
  });
});
