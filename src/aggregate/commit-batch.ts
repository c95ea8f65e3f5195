import type { AvroSerde } from '../codec/serde.js';
import type { WindowAggregate } from '../domain/types.js';
import { tpKey, type ProducerRecord, type TopicPartitionOffset } from '../ports/log.js';
import type { WindowStateStore } from '../ports/window-state-store.js';
import type { ResumeAt } from './partition-restore.js';
import type { Task } from './partition-tasks.js';

export function aggregateKey(a: { matchId: string; windowStart: number }): string {
  return `${a.matchId}|${a.windowStart}`;
}

/** What one transaction writes: closed windows, changelog snapshots and input offsets, together. */
export interface CommitBatch {
  records: ProducerRecord[];
  /** Input offsets per partition (tpKey). */
  offsets: Map<string, TopicPartitionOffset>;
  /** The snapshots written, per partition: each partition's committed state once the transaction commits. */
  written: Array<[string, ResumeAt]>;
  /** Windows this transaction emits. */
  emitted: number;
  /** Windows still open across the tasks. */
  open: number;
}

/** A batch a refused commit left behind (memory log only): it goes first, so windows keep their order. */
export interface CarriedBatch {
  records: ProducerRecord[];
  offsets: Array<[string, TopicPartitionOffset]>;
  emitted: number;
}

/**
 * Takes every task's closed windows and, for each task that changed, its snapshot naming the
 * offset it has counted up to: the one this same transaction commits. Marks the tasks clean.
 */
export function collectCommit(
  tasks: readonly Task[],
  o: { aggregatesTopic: string; aggregate: AvroSerde<WindowAggregate>; stateStore?: WindowStateStore | undefined; writer?: string },
  carried?: CarriedBatch,
): CommitBatch {
  const records: ProducerRecord[] = [...(carried?.records ?? [])];
  const offsets = new Map<string, TopicPartitionOffset>(carried?.offsets ?? []);
  let emitted = carried?.emitted ?? 0;
  let open = 0;
  const written: Array<[string, ResumeAt]> = [];
  for (const t of tasks) {
    const out = t.agg.takeOutput();
    emitted += out.length;
    for (const a of out) records.push({ topic: o.aggregatesTopic, key: aggregateKey(a), value: o.aggregate.encode(a) });
    open += t.agg.openWindows;
    if (!t.dirty && out.length === 0) continue;
    if (o.stateStore) {
      // snapshot() copies the aggregator's state: what is kept here does not change with it.
      const snapshot = { ...t.agg.snapshot(), offset: t.offset, ...(o.writer ? { writer: o.writer } : {}) };
      records.push(o.stateStore.record(t.tp, snapshot));
      written.push([tpKey(t.tp), { snapshot, offset: t.offset }]);
    }
    if (t.offset >= 0) offsets.set(tpKey(t.tp), { ...t.tp, offset: t.offset });
    t.dirty = false;
  }
  return { records, offsets, written, emitted, open };
}
