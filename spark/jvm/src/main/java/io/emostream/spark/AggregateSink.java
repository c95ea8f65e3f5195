package io.emostream.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.execution.streaming.Sink;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * The streaming job's sink, on the JVM: no Python runs in a batch. It runs the batch's plan (read,
 * count, close windows) and collects its rows, a few a batch, to the driver, encodes the windows
 * (AggregateEncoder), writes them in (windowStart, matchId) order to its RecordOut and counts the
 * late drops.
 *
 * <p>A Sink of its own rather than foreachBatch: ForeachBatchSink wraps each batch in a new
 * Dataset (a LogicalRDD, analysed and given an encoder) before the function sees it, ~40 ms a
 * batch on the bench machine; this collects the batch's physical plan directly.
 *
 * <p>Input rows (WindowCloser.OUT): matchId, windowStartMs, late, c (counts in catalog order). A
 * window row has late = 0; a late-drop row has late > 0.
 *
 * <p>Order: a batch can close several windows of one match (a backlog, a restart), and the
 * publisher keeps per match only windows above the last one, so each match's windows go out in
 * windowStart order; across batches WindowCloser keeps it. Matches sort by their UTF-8 bytes, i.e.
 * by code point. A batch that runs again after a crash (same id, offsets, timestamp and restored
 * state) closes the same windows and writes the same records in the same order: at-least-once
 * with byte-identical values.
 */
public final class AggregateSink implements Sink {
  private static final int KEEP_STATS = 100;
  private static final Comparator<Window> ORDER =
      Comparator.<Window>comparingLong(w -> w.start).thenComparing(w -> w.match, Arrays::compareUnsigned);

  private record Window(long start, byte[] match, RecordOut.KeyValue record) {}

  private static final java.util.concurrent.atomic.AtomicLong NEXT_ID = new java.util.concurrent.atomic.AtomicLong();

  private final long id = NEXT_ID.incrementAndGet();
  private final AggregateEncoder encoder;
  private final RecordOut out;
  private final ConcurrentHashMap<Long, long[]> stats = new ConcurrentHashMap<>();

  public AggregateSink(AggregateEncoder encoder, RecordOut out) {
    this.encoder = encoder;
    this.out = out;
  }

  @Override
  public void addBatch(long batchId, Dataset<Row> data) {
    try {
      write(batchId, data);
    } catch (Exception e) {
      throw Exceptions.rethrow(e);
    }
  }

  private void write(long batchId, Dataset<Row> data) throws Exception {
    long t0 = System.nanoTime();
    InternalRow[] rows = ((org.apache.spark.sql.classic.Dataset<Row>) data).queryExecution().executedPlan().executeCollect();
    long t1 = System.nanoTime();
    List<Window> windows = new ArrayList<>(rows.length);
    long late = 0;
    for (InternalRow r : rows) {
      if (r.getLong(2) > 0) {
        late += r.getLong(2);
        continue;
      }
      UTF8String match = r.getUTF8String(0);
      long start = r.getLong(1);
      windows.add(new Window(start, match.getBytes(), encoder.encode(match.toString(), start, r.getArray(3).toLongArray())));
    }
    windows.sort(ORDER);
    List<RecordOut.KeyValue> records = new ArrayList<>(windows.size());
    for (Window w : windows) records.add(w.record);
    long t2 = System.nanoTime();
    out.write(batchId, records);
    long t3 = System.nanoTime();
    stats.put(batchId, new long[] {records.size(), late, ms(t1 - t0), ms(t2 - t1), ms(t3 - t2)});
    stats.keySet().removeIf(b -> b < batchId - KEEP_STATS);
  }

  private static long ms(long nanos) {
    return nanos / 1_000_000;
  }

  /**
   * What batch batchId did, for the job's progress line: windows written, reactions dropped as
   * late, then the sink's phases in ms: sinkPlan (running the batch's plan), sinkEncode (encode and
   * order), sinkSend. Null for a batch not (yet) seen or forgotten.
   */
  public long[] stats(long batchId) {
    return stats.get(batchId);
  }

  /** Unique per instance: the query's progress names its sink by this (ProgressLog). */
  @Override
  public String toString() {
    return "AggregateSink-" + id;
  }
}
