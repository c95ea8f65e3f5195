package io.emostream.spark;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.streaming.ExpiredTimerInfo;
import org.apache.spark.sql.streaming.MapState;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StatefulProcessor;
import org.apache.spark.sql.streaming.TTLConfig;
import org.apache.spark.sql.streaming.TimeMode;
import org.apache.spark.sql.streaming.TimerValues;
import org.apache.spark.sql.streaming.ValueState;
import org.apache.spark.sql.types.StructType;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The streaming job's one stateful step, keyed by matchId: windows closed by a processing-time
 * timer at windowEnd + graceMs, on the JVM (transformWithState), so no Python worker runs in any
 * batch. The rules and the output are windows.py's (WindowCloser, transformWithStateInPandas),
 * which documents them: the open windows' counts per catalog emoji and the match's seenAt in
 * state; a timer per open window; a row whose window closed at or before seenAt is late, dropped
 * and counted in a row of its own (windowStartMs -1).
 *
 * <p>Input: PartialCounts.OUT rows. Output: OUT (matchId, windowStartMs, late, c). window_ms,
 * grace_ms and the catalog's size are part of the state layout: a new checkpoint when they change.
 */
public final class WindowCloser extends StatefulProcessor<String, Row, Row> {
  private static final long serialVersionUID = 1L;

  /** windows.OUTPUT_DDL. */
  public static final StructType OUT = StructType.fromDDL("matchId string, windowStartMs bigint, late bigint, c array<bigint>");

  private final long windowMs;
  private final long graceMs;
  private final int emojis;
  private transient MapState<Long, byte[]> windows;
  private transient ValueState<Long> seenAt;

  public WindowCloser(long windowMs, long graceMs, int emojis) {
    this.windowMs = windowMs;
    this.graceMs = graceMs;
    this.emojis = emojis;
  }

  /** From PySpark: DataFrame(jvm.io.emostream.spark.WindowCloser.apply(partials._jdf, ...), spark). */
  public static Dataset<Row> apply(Dataset<Row> partials, long windowMs, long graceMs, int emojis) {
    return partials
        .groupByKey((MapFunction<Row, String>) r -> r.getString(0), Encoders.STRING())
        .transformWithState(new WindowCloser(windowMs, graceMs, emojis), TimeMode.ProcessingTime(), OutputMode.Append(), Encoders.row(OUT));
  }

  @Override
  public void init(OutputMode outputMode, TimeMode timeMode) {
    // Counts as one binary of 8-byte longs: no array encoder needed, one state write per window.
    windows = getHandle().getMapState("windows", Encoders.LONG(), Encoders.BINARY(), TTLConfig.NONE());
    seenAt = getHandle().getValueState("seenAt", Encoders.LONG(), TTLConfig.NONE());
  }

  private void touch(long now) {
    if (!seenAt.exists() || seenAt.get() < now) seenAt.update(now);
  }

  @Override
  public Iterator<Row> handleInputRows(String matchId, Iterator<Row> rows, TimerValues timerValues) {
    long now = timerValues.getCurrentProcessingTimeInMs();
    Long seen = seenAt.exists() ? seenAt.get() : null;
    touch(now);
    Map<Long, long[]> add = new HashMap<>();
    long late = 0;
    while (rows.hasNext()) {
      Row r = rows.next();
      long start = r.getLong(1);
      int idx = r.getInt(2);
      long n = r.getLong(3);
      if (seen != null && start + windowMs + graceMs <= seen) {
        late += n;
        continue;
      }
      add.computeIfAbsent(start, k -> new long[emojis])[idx] += n;
    }
    for (Map.Entry<Long, long[]> e : add.entrySet()) {
      long start = e.getKey();
      long[] counts = e.getValue();
      byte[] prev = windows.getValue(start);
      if (prev == null) {
        getHandle().registerTimer(start + windowMs + graceMs);
      } else {
        ByteBuffer b = ByteBuffer.wrap(prev);
        for (int i = 0; i < emojis; i++) counts[i] += b.getLong();
      }
      ByteBuffer out = ByteBuffer.allocate(8 * emojis);
      for (long c : counts) out.putLong(c);
      windows.updateValue(start, out.array());
    }
    List<Row> out = new ArrayList<>(1);
    if (late > 0) out.add(RowFactory.create(matchId, -1L, late, boxed(new long[emojis])));
    return CollectionConverters.asScala(out.iterator());
  }

  @Override
  public Iterator<Row> handleExpiredTimer(String matchId, TimerValues timerValues, ExpiredTimerInfo expired) {
    touch(timerValues.getCurrentProcessingTimeInMs());
    long start = expired.getExpiryTimeInMs() - graceMs - windowMs;
    byte[] counts = windows.getValue(start);
    List<Row> out = new ArrayList<>(1);
    if (counts != null) {
      windows.removeKey(start);
      ByteBuffer b = ByteBuffer.wrap(counts);
      long[] c = new long[emojis];
      for (int i = 0; i < emojis; i++) c[i] = b.getLong();
      out.add(RowFactory.create(matchId, start, 0L, boxed(c)));
    }
    return CollectionConverters.asScala(out.iterator());
  }

  private static scala.collection.immutable.Seq<Long> boxed(long[] c) {
    List<Long> l = new ArrayList<>(c.length);
    for (long x : c) l.add(x);
    return CollectionConverters.asScala(l).toList();
  }
}
