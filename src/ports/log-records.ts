/**
 * The records and positions of the log port, apart from the port itself so that the stores saved
 * in the log (window-state-store.ts) name them without depending on the log's interface.
 * Offsets follow Kafka's convention: a committed offset is the next record to read.
 */
export interface ProducerRecord {
  topic: string;
  key: string;
  value: Buffer;
  /** Explicit partition (a changelog co-partitioned with its source); otherwise by key. */
  partition?: number;
}

export interface LogRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer;
  timestamp: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/**
 * The one spelling of a partition as a map key and in messages: `topic/partition`. The changelog's
 * record keys use it too (kafka-state-store), so it is part of what is on disk: do not change it.
 */
export function tpKey(tp: TopicPartition): string {
  return `${tp.topic}/${tp.partition}`;
}

export interface TopicPartitionOffset extends TopicPartition {
  offset: number;
}
