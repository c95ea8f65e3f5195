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
}

export interface WindowStateStore {
  load(tp: TopicPartition): Promise<LoadedState>;
  record(tp: TopicPartition, snapshot: AggregatorSnapshot): ProducerRecord;
}
