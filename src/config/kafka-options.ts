export type AckMode = 'durable' | 'queued';

export interface KafkaOptions {
  brokers: string;
  clientId: string;
  /** durable: 202 after the broker acknowledged (acks=all); queued: 202 once in librdkafka's queue. */
  ackMode: AckMode;
  compression: 'lz4' | 'zstd' | 'none';
  lingerMs: number;
  batchSize: number;
  /** Reactions produced but not yet acknowledged, past which new sends get 503 (backpressure). */
  maxInFlight: number;
  messageTimeoutMs: number;
  /**
   * Longest a durable send waits for the broker before the client hears 503. librdkafka keeps an
   * idempotent producer's in-flight records until the broker answers, however long it is gone.
   */
  ackTimeoutMs: number;
  reactionsPartitions: number;
  /** 1 on the single-node dev cluster; 3 with min.insync.replicas=2 on a real one (see README). */
  replicationFactor: number;
  retryAfterSec: number;
  /** librdkafka debug contexts (KAFKA_DEBUG, e.g. `cgrp,eos`) logged through the role's logger; '' for none. */
  debug: string;
}
