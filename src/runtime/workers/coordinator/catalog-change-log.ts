/**
 * The coordinator object's log of recent catalog changes, which Worker isolates read to invalidate
 * what they cache (the Workers CatalogChangeBus, polled-catalog-changes.ts): where the Node
 * replicas hear changes over Redis pub/sub, isolates cannot be reached, so they ask. The log is
 * memory only and bounded: an object that restarted (a new epoch) or a reader that fell further
 * behind than the log reaches is told to resynchronise everything, exactly as a Node replica
 * does when its Redis subscription reconnects.
 */
import type { CatalogChange } from '../../../platform/shared-state/catalog-change-bus.ts';

/** A change as announced: `origin` is the isolate that made it, which ignores its own. */
export type AnnouncedChange = { origin: string; change: CatalogChange };

/** Where a reader stands in the log: the object's epoch and the last sequence it read. */
export type ChangeCursor = { epoch: string; sequence: number };

export type ChangesRead =
  | { resync: false; cursor: ChangeCursor; changes: AnnouncedChange[] }
  /** Changes may have been lost to this reader: it reloads everything, then reads from `cursor`. */
  | { resync: true; cursor: ChangeCursor };

export class CatalogChangeLog {
  private readonly entries: AnnouncedChange[] = [];
  /** The sequence of the newest entry; the oldest kept is `sequence - entries.length + 1`. */
  private sequence = 0;

  constructor(
    private readonly epoch: string,
    private readonly entriesMax: number,
  ) {
    if (!Number.isInteger(entriesMax) || entriesMax < 1) {
      throw new RangeError('the change log keeps at least one entry');
    }
  }

  append(announced: AnnouncedChange): void {
    this.entries.push(announced);
    if (this.entries.length > this.entriesMax) {
      this.entries.shift();
    }
    this.sequence += 1;
  }

  /** The changes after `cursor`; none and the current cursor for a reader that starts. */
  readAfter(cursor: ChangeCursor | undefined): ChangesRead {
    const current = { epoch: this.epoch, sequence: this.sequence };
    if (cursor === undefined) {
      return { resync: false, cursor: current, changes: [] };
    }
    const oldestKept = this.sequence - this.entries.length + 1;
    const behind = this.sequence - cursor.sequence;
    if (cursor.epoch !== this.epoch || behind < 0 || cursor.sequence + 1 < oldestKept) {
      return { resync: true, cursor: current };
    }
    return {
      resync: false,
      cursor: current,
      changes: this.entries.slice(this.entries.length - behind),
    };
  }
}
