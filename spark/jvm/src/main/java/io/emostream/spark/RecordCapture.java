package io.emostream.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Keeps each micro-batch's records in memory instead of sending them: the job's warm-up (its
 * records are made up) and the streaming tests, which have no broker. Holds the last `keep`
 * batches that wrote a record.
 */
public final class RecordCapture implements RecordOut {
  private final int keep;
  private final ConcurrentSkipListMap<Long, List<KeyValue>> batches = new ConcurrentSkipListMap<>();

  public RecordCapture(int keep) {
    this.keep = keep;
  }

  @Override
  public void write(long batchId, List<KeyValue> records) {
    if (records.isEmpty()) return;
    batches.put(batchId, List.copyOf(records));
    while (batches.size() > keep) batches.pollFirstEntry();
  }

  /** The ids of the batches kept, ascending. */
  public List<Long> batchIds() {
    return new ArrayList<>(batches.keySet());
  }

  /** A kept batch's keys, in write order (empty if none). */
  public List<byte[]> keys(long batchId) {
    return batches.getOrDefault(batchId, List.of()).stream().map(KeyValue::key).toList();
  }

  /** A kept batch's values, in write order (empty if none). */
  public List<byte[]> values(long batchId) {
    return batches.getOrDefault(batchId, List.of()).stream().map(KeyValue::value).toList();
  }

  @Override
  public void close() {
    batches.clear();
  }
}
