import type { ProducerRecord, TopicPartition } from './log-records.js';

/** Serializable state, so open windows survive a restart (see the Kafka changelog). */
export interface AggregatorSnapshot {
  streamTime: number;
  /**
   * The next input offset of the partition this state has counted up to: the offset committed in
   * the same transaction (-1: none yet). Absent in snapshots of older versions.
   */
  offset?: number;
  matches: Array<{ matchId: string; closedThrough: number; open: Array<[number, number[]]> }>;
  /**
   * The transactional id that wrote this snapshot. When its transaction hangs open on the
   * changelog, the reader learns from it whose transaction to end (see LoadedState.openAt).
   */
  writer?: string;
}

/**
 * Where a partition's open windows are saved with each transaction, so a restarted or new owner
 * resumes exactly (Kafka Streams' changelog). Embedded mode needs none: its log dies with it.
 */
export interface LoadedState {
  /** The newest committed snapshot of the partition, null when none was ever committed. */
  snapshot: AggregatorSnapshot | null;
  /**
   * A transaction was still open on the changelog partition when it was read: a newer snapshot may
   * be about to become visible (or be aborted). A snapshot read without one is the last committed.
   */
  openTransaction: boolean;
  /**
   * Where the open transaction is, when the store can tell: the changelog partition, and the
   * writer of its first record (a snapshot's `writer`). Kafka can be left with a transaction open
   * on a partition that its coordinator no longer knows of (a "hanging transaction", seen after
   * broker outages and freezes); only an end marker of that writer's producer id ends it.
   */
  openAt?: FenceTarget;
}

/** A partition whose open transaction a TransactionalSession.fence ends, and whose it is. */
export interface FenceTarget {
  tp: TopicPartition;
  /** The transactional id that left it open; unknown: the fencing session's own. */
  writer?: string | undefined;
}

export interface WindowStateStore {
  load(tp: TopicPartition): Promise<LoadedState>;
  record(tp: TopicPartition, snapshot: AggregatorSnapshot): ProducerRecord;
}
