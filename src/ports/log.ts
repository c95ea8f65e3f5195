import type { FenceTarget, WindowStateStore } from './window-state-store.js';
import type { LogRecord, ProducerRecord, TopicPartition, TopicPartitionOffset } from './log-records.js';

export type { LogRecord, ProducerRecord, TopicPartition, TopicPartitionOffset } from './log-records.js';
export { tpKey } from './log-records.js';

/**
 * The log port: what the pipeline needs of Kafka, and what the in-memory log provides in embedded
 * mode. Offsets follow Kafka's convention: a committed offset is the next record to read.
 */
export interface AssignmentChange {
  assigned: TopicPartition[];
  revoked: TopicPartition[];
}

export interface LogProducer {
  /**
   * Resolves once the log holds every record (durably, per the adapter's ack mode). Rejects with
   * EMO_ERR_BACKPRESSURE when the log cannot take more now, EMO_ERR_LOG_UNAVAILABLE when it is down;
   * a rejected send stored none of the records the caller must retry.
   */
  send(records: ProducerRecord[]): Promise<void>;
  ready(): boolean;
  close(): Promise<void>;
}

/** See LogConsumer.groupProgress. */
export interface GroupProgress {
  lag: number;
  committed: number | undefined;
  /**
   * This consumer's own client could not reach the log; the answer came from a fresh client (the
   * Kafka adapter): the log is there, the consumer's client is not.
   */
  ownClientAway?: boolean;
}

export interface LogConsumer {
  /** Records from the assigned partitions, in offset order per partition; [] after timeoutMs with none. */
  poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]>;
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  /**
   * The whole group's position on the subscribed topics, whoever holds each partition: records not
   * committed yet (lag), and the sum of the committed offsets (it grows while any member commits).
   * What a member holding no partition asks to tell an idle group from one nobody reads for (a
   * consumer left out of its group: Kafka shows no member, records pile up, and its empty polls
   * look like idleness). Rejects when the log cannot tell now. `committed` is undefined when the
   * log answers (its partitions' ends) but this consumer cannot read the group's offsets: its own
   * group client is stuck, not the log away (lag then counts from each partition's start).
   */
  groupProgress?(): Promise<GroupProgress>;
  /** What a stuck-phase log shows of the consumer's own state (where it waits), when the adapter can tell. */
  diagnostics?(): Record<string, unknown>;
  /** Called before records of a newly assigned partition are returned and after a revoked one's last. */
  onAssignment(listener: (change: AssignmentChange) => void | Promise<void>): void;
  /**
   * True when this consumer has read everything the partition holds now (its position is at the
   * high watermark): the only state in which the wall clock may close a quiet window.
   */
  caughtUp(tp: TopicPartition): Promise<boolean>;
  /**
   * Records between this consumer's position and the partition's end, asked of the log (not a
   * cache): what health and metrics call input waiting. Rejects when the log cannot tell now.
   */
  lag(tp: TopicPartition): Promise<number>;
  /**
   * Moves back to the committed offsets (after an aborted transaction) and says where each
   * partition now reads from: its committed offset, -1 when nothing was committed (the start).
   */
  rewind(partitions: TopicPartition[]): Promise<TopicPartitionOffset[]>;
  /**
   * The group's committed offset of each partition (-1: none), asked with a bound: rejects with
   * EMO_ERR_LOG_UNAVAILABLE when the answer takes longer than timeoutMs. On Kafka a read_committed
   * fetch waits while an offset commit of an open transaction is pending on the partition.
   */
  committed(partitions: TopicPartition[], timeoutMs: number): Promise<TopicPartitionOffset[]>;
  /**
   * Reads each partition next from the given offset (-1: its start), whatever was committed: where
   * a stage resumes from its own state (the changelog snapshot names the offset it counted up to).
   * Partitions not named keep their place; a partition not assigned to this consumer is ignored.
   */
  seek(positions: TopicPartitionOffset[]): Promise<void>;
  /**
   * Serves the group protocol (a rebalance's callbacks) while the stage is busy elsewhere, for a
   * restore or a commit that takes seconds: on Kafka a member that does not poll leaves the group
   * waiting in its rebalance, and both members of the chaos tier then lost their assignment in
   * turn for minutes. Records it happens to fetch come out of the next poll, unless a seek or a
   * rebalance came between (then they are read again from where those put the partition).
   */
  pump(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Consume-transform-produce: a group consumer and the transactions that commit its input offsets
 * together with the outputs. The session owns both, so no caller can pair a transaction with a
 * consumer of another log (or another group).
 */
export interface TransactionalSession {
  /**
   * Reads a newly assigned partition from where the stage seeks it (the stage resumes from its own
   * state, or from the committed offset it asked for): until its first seek a partition may be
   * read from anywhere, and the stage drops what it returns.
   */
  readonly consumer: LogConsumer;
  /**
   * Outputs and input offsets become visible together or not at all. A rejection whose
   * transactionOutcome is 'aborted' left neither, for sure (the commit was never asked for); with
   * 'unknown' the commit was asked for and may yet have happened: only the log can tell.
   */
  commit(records: ProducerRecord[], offsets: TopicPartitionOffset[]): Promise<void>;
  /**
   * Ends whatever transaction this session's id may have left open (on Kafka a new producer
   * instance under the same transactional id, whose start aborts it), so readers that wait for it
   * (read_committed) go on. With a target, also the transaction left open on that partition by its
   * writer, even one the Kafka coordinator lost track of: a producer under the writer's id writes
   * to the partition in a transaction it aborts, and that abort marker ends the open one too. A
   * writer that is another live member is fenced by it (its next commit fails and it rewinds).
   */
  fence(target?: FenceTarget): Promise<void>;
  /** Closes the consumer, then the transactional producer. */
  close(): Promise<void>;
}

export interface TopicSpec {
  name: string;
  partitions: number;
}

export interface Log {
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  producer(): Promise<LogProducer>;
  consumer(opts: { groupId: string; topics: string[] }): Promise<LogConsumer>;
  /** `onRecovery` hears of each recovery the producer makes by itself (an abort, a replaced instance). */
  transactionalSession(opts: { transactionalId: string; groupId: string; topics: string[]; onRecovery?: (kind: string) => void }): Promise<TransactionalSession>;
  /**
   * A changelog on `topic` where the aggregator saves its open windows with each transaction, or
   * undefined when the log does not outlive the process (nothing to restore from).
   */
  windowStateStore(topic: string): WindowStateStore | undefined;
  close(): Promise<void>;
}

/** What a rejected TransactionalSession.commit left behind (see commit). */
export function transactionOutcome(err: unknown): 'aborted' | 'unknown' {
  const details = typeof err === 'object' && err !== null ? (err as { details?: { outcome?: unknown } }).details : undefined;
  return details?.outcome === 'aborted' ? 'aborted' : 'unknown';
}
