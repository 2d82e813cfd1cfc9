import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../../platform/clock.ts';
import type { Logger } from '../../../platform/logger.ts';
import type { CatalogChange } from '../../../platform/shared-state/catalog-change-bus.ts';
import { CatalogChangeLog } from './catalog-change-log.ts';
import { type CatalogChangeSource, createPolledCatalogChanges } from './polled-catalog-changes.ts';

function logSource(log: CatalogChangeLog): CatalogChangeSource & { failing: boolean } {
  const source = {
    failing: false,
    publishChange: async (announced: Parameters<CatalogChangeLog['append']>[0]) =>
      log.append(announced),
    changesAfter: async (cursor: Parameters<CatalogChangeLog['readAfter']>[0]) => {
      if (source.failing) {
        throw new Error('the coordinator object is unreachable');
      }
      return log.readAfter(cursor);
    },
  };
  return source;
}

function isolate(source: CatalogChangeSource, instanceId: string, logger: Logger = { log() {} }) {
  const clock = createManualClock(0);
  const bus = createPolledCatalogChanges({
    source: () => source,
    instanceId,
    clock,
    logger,
    pollMs: 1_000,
  });
  const heard: (CatalogChange | 'resync')[] = [];
  bus.subscribe({ change: (change) => heard.push(change), resync: () => heard.push('resync') });
  return { bus, clock, heard };
}

const revoked: CatalogChange = { kind: 'key', keyId: 'key_1' };

describe('the polled catalog change bus of Worker isolates', () => {
  it("applies another isolate's change at the next poll, and not its own", async () => {
    const source = logSource(new CatalogChangeLog('e1', 16));
    const reader = isolate(source, 'gw_reader');
    const writer = isolate(source, 'gw_writer');
    await reader.bus.pollIfDue();
    await writer.bus.pollIfDue();
    await writer.bus.publish(revoked);
    await writer.bus.publish({ kind: 'prices' });
    reader.clock.advanceMs(1_000);
    writer.clock.advanceMs(1_000);
    await reader.bus.pollIfDue();
    await writer.bus.pollIfDue();
    expect(reader.heard).toEqual([revoked, { kind: 'prices' }]);
    expect(writer.heard).toEqual([]);
  });

  it('places its cursor at the first poll without applying what came before', async () => {
    const log = new CatalogChangeLog('e1', 16);
    log.append({ origin: 'gw_other', change: revoked });
    const reader = isolate(logSource(log), 'gw_reader');
    await reader.bus.pollIfDue();
    expect(reader.heard).toEqual([]);
  });

  it('polls at most once per interval and never twice at once', async () => {
    const source = logSource(new CatalogChangeLog('e1', 16));
    const reader = isolate(source, 'gw_reader');
    const first = reader.bus.pollIfDue();
    expect(first).toBeDefined();
    expect(reader.bus.pollIfDue()).toBeUndefined();
    await first;
    reader.clock.advanceMs(999);
    expect(reader.bus.pollIfDue()).toBeUndefined();
    reader.clock.advanceMs(1);
    expect(reader.bus.pollIfDue()).toBeDefined();
  });

  it('resynchronises when the object restarted or it fell behind the log', async () => {
    const source = logSource(new CatalogChangeLog('e1', 1));
    const reader = isolate(source, 'gw_reader');
    await reader.bus.pollIfDue();
    await source.publishChange({ origin: 'gw_other', change: revoked });
    await source.publishChange({ origin: 'gw_other', change: { kind: 'admin' } });
    reader.clock.advanceMs(1_000);
    await reader.bus.pollIfDue();
    expect(reader.heard).toEqual(['resync']);
  });

  it('logs a failed read and reads again at the next interval', async () => {
    const source = logSource(new CatalogChangeLog('e1', 16));
    const logged: string[] = [];
    const reader = isolate(source, 'gw_reader', { log: (_level, event) => logged.push(event) });
    await reader.bus.pollIfDue();
    source.failing = true;
    reader.clock.advanceMs(1_000);
    await reader.bus.pollIfDue();
    expect(logged).toEqual(['catalog_changes_unread']);
    source.failing = false;
    await source.publishChange({ origin: 'gw_other', change: revoked });
    reader.clock.advanceMs(1_000);
    await reader.bus.pollIfDue();
    expect(reader.heard).toEqual([revoked]);
  });
});
