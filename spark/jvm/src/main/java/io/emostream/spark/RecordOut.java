package io.emostream.spark;

import java.util.List;

/** Where AggregateSink writes a micro-batch's records: Kafka (RecordSender) or memory (RecordCapture). */
public interface RecordOut extends AutoCloseable {
  /** One Kafka record's key and value. */
  record KeyValue(byte[] key, byte[] value) {}

  /** Writes the batch's records in the order given; returns only once all are durable, throws if one is not. */
  void write(long batchId, List<KeyValue> records) throws Exception;

  @Override
  void close();
}
