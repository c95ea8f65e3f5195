package io.emostream.spark;

import java.util.concurrent.TimeoutException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.execution.streaming.Sink;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.Trigger;
import org.apache.spark.util.SystemClock;
import scala.Option;

/**
 * Starts the job's foreachBatch query with its processing-time trigger moved by a phase.
 *
 * <p>Spark runs a processing-time trigger at the multiples of its interval since the epoch
 * (ProcessingTimeExecutor.nextBatchTime), and windows are epoch-aligned too: with a 2 s trigger,
 * 2 s windows and 500 ms of grace, the window ending at e closes at e + 500 ms but its timer only
 * fires in the batch of e + 2 s, 1.5 s later. With the phase (graceMs mod triggerMs) the batches run
 * at e + 500 ms instead. Only the waits move: the clock still tells the real time, so every batch's
 * timestamp (what fires the timers, see windows.py) is the real time after its offset look-up, and
 * the rule that makes a closed window complete is unchanged.
 *
 * <p>DataStreamWriter has no way to give the query a clock; StreamingQueryManager.startQuery does
 * (Scala private[sql], public in the bytecode), so this calls it as DataStreamWriter.start() does
 * for a sink. It is Spark-version specific: built against the running Spark by install.sh.
 */
public final class PhasedStart {
  private PhasedStart() {}

  /** The real clock, whose waits for a trigger time end phaseMs after it. */
  static final class PhasedClock extends SystemClock {
    private static final long serialVersionUID = 1L;
    private final long phaseMs;

    PhasedClock(long phaseMs) {
      this.phaseMs = phaseMs;
    }

    @Override
    public long waitTillTime(long targetTime) {
      return super.waitTillTime(targetTime + phaseMs);
    }
  }

  /**
   * From PySpark: the query of df written to sink (AggregateSink) in append mode, as
   * df.writeStream.queryName(name).option("checkpointLocation", checkpoint)
   * .trigger(processingTime=triggerMs).start() would with a sink of the job's own, its batches at
   * phaseMs past the multiples of triggerMs.
   */
  public static StreamingQuery start(Dataset<Row> df, Sink sink, String name, String checkpoint, long triggerMs,
      long phaseMs) throws TimeoutException {
    if (phaseMs < 0 || phaseMs >= triggerMs) {
      throw new IllegalArgumentException("phaseMs must be in [0, triggerMs): " + phaseMs);
    }
    org.apache.spark.sql.classic.Dataset<Row> ds = (org.apache.spark.sql.classic.Dataset<Row>) df;
    return ds.sparkSession().sessionState().streamingQueryManager().startQuery(
        Option.apply(name), Option.empty(), Option.apply(checkpoint), ds,
        scala.collection.immutable.Map$.MODULE$.empty(), sink,
        OutputMode.Append(), false, true, Trigger.ProcessingTime(triggerMs), new PhasedClock(phaseMs),
        Option.empty(), Option.empty());
  }
}
