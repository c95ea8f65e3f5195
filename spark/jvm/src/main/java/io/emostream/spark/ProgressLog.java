package io.emostream.spark;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.sql.streaming.StateOperatorProgress;
import org.apache.spark.sql.streaming.StreamingQueryListener;
import org.apache.spark.sql.streaming.StreamingQueryProgress;

/**
 * The job's line per micro-batch (and per query start and end), on stderr beside the Python
 * driver's log, in its format; the bench and the tests read these lines (helpers/spark-job.ts).
 *
 * <p>On the JVM rather than a PySpark StreamingQueryListener: PySpark turns every progress event
 * into a Python object with dozens of py4j calls, some of which look classes up by name through
 * every jar on the classpath. At the 500 ms trigger that listener took a fifth of the driver
 * JVM's sampled CPU (JFR), beside the batches, on a machine with no core to spare.
 */
public final class ProgressLog extends StreamingQueryListener {
  private static final long serialVersionUID = 1L;
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss,SSS");
  private static final String LOGGER = "emostream_spark.job";

  private final boolean info;
  private final long offsetWarnMs;
  private final long closeMarginMs;
  private final transient Map<String, AggregateSink> sinks = new ConcurrentHashMap<>();

  /**
   * info: whether INFO lines are written (the driver's LOG_LEVEL). A batch whose offset look-up
   * took offsetWarnMs or more gets a WARNING: a window it closes may miss a reaction acknowledged
   * in its last closeMarginMs (see windows.py).
   */
  public ProgressLog(boolean info, long offsetWarnMs, long closeMarginMs) {
    this.info = info;
    this.offsetWarnMs = offsetWarnMs;
    this.closeMarginMs = closeMarginMs;
  }

  /** Before its query starts: the sink whose stats go on its query's lines. */
  public void watch(AggregateSink sink) {
    sinks.put(sink.toString(), sink);
  }

  private static void write(String level, String message) {
    System.err.print(LocalDateTime.now().format(TIME) + " " + level + " " + LOGGER + ": " + message + "\n");
  }

  @Override
  public void onQueryStarted(QueryStartedEvent event) {
    if (info) write("INFO", "query started: id=" + event.id() + " runId=" + event.runId() + " name=" + event.name());
  }

  @Override
  public void onQueryProgress(QueryProgressEvent event) {
    StreamingQueryProgress p = event.progress();
    Map<String, Long> d = p.durationMs();
    AggregateSink sink = p.sink() == null ? null : sinks.get(p.sink().description());
    long[] stats = sink == null ? null : sink.stats(p.batchId());
    long written = stats == null ? 0 : stats[0];
    long late = stats == null ? 0 : stats[1];
    long rows = 0;
    for (StateOperatorProgress o : p.stateOperators()) {
      rows += o.numRowsTotal();
      late += o.numRowsDroppedByWatermark();
    }
    // Where a batch's time goes (latestOffset, queryPlanning, addBatch = the sink's sinkPlan +
    // sinkEncode + sinkSend, walCommit, commitOffsets...), by name.
    Map<String, Long> phases = new TreeMap<>(d);
    phases.remove("triggerExecution");
    if (stats != null) {
      phases.put("sinkPlan", stats[2]);
      phases.put("sinkEncode", stats[3]);
      phases.put("sinkSend", stats[4]);
    }
    StringBuilder ph = new StringBuilder();
    for (Map.Entry<String, Long> e : phases.entrySet()) {
      if (ph.length() > 0) ph.append(',');
      ph.append(e.getKey()).append(':').append(e.getValue());
    }
    if (info) {
      write("INFO", "progress batch=" + p.batchId() + " input=" + p.numInputRows()
          + " durationMs=" + d.getOrDefault("triggerExecution", -1L)
          + " watermark=" + p.eventTime().getOrDefault("watermark", "-") + " timestamp=" + p.timestamp()
          + " stateRows=" + rows + " removed=" + written + " droppedLate=" + late
          + " phases=" + (ph.length() > 0 ? ph : "-"));
    }
    long lookup = d.getOrDefault("latestOffset", 0L);
    if (lookup >= offsetWarnMs) {
      write("WARNING", "batch " + p.batchId() + ": the offset look-up took " + lookup + " ms (>= " + offsetWarnMs
          + " ms): a window closed by this batch may miss a reaction acknowledged in its last " + closeMarginMs + " ms");
    }
  }

  @Override
  public void onQueryIdle(QueryIdleEvent event) {}

  @Override
  public void onQueryTerminated(QueryTerminatedEvent event) {
    if (info) write("INFO", "query terminated: id=" + event.id() + " exception=" + event.exception().getOrElse(() -> "None"));
  }
}
