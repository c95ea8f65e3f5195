"""Windows closed by processing time: the job's one stateful step.

The step runs on the JVM: spark/jvm WindowCloser (transformWithState, keyed by matchId; called by
transform.close_windows). It was a transformWithStateInPandas processor in this file; the rules
did not change, and they are these.

A window [s, e) of a match is closed by a processing-time timer at e + graceMs, which fires in the
first micro-batch whose timestamp is at or past it. The API answers 202 only for a reaction it
logged by e + graceMs - ACK_CLOSE_MARGIN_MS (100 ms), and every micro-batch reads all offsets
available at its start (the live query has no maxOffsetsPerTrigger). Spark takes a batch's
timestamp right after it asks the source for its latest offsets (MicroBatchExecution
.constructNextBatch), so a batch that fires the timer holds every acknowledged reaction of that
window as long as the offset look-up took less than that margin; the job logs a warning when a
batch's `latestOffset` phase does not (job._progress_listener).

Nothing here waits for newer input: a processing-time stateful operator makes Spark run a batch at
every trigger, data or not, so an idle stream's last windows close too, at most one trigger
after e + graceMs.

State per match (RocksDB, in the checkpoint):
  windows: map windowStartMs -> counts per catalog emoji (the open windows; 8-byte longs in one
           binary)
  seenAt:  the timestamp of the last batch that had input or a timer for this match. A row whose
           window closes (end + graceMs) at or before it is late: that batch read every offset
           available at its start, so it already held every acknowledged reaction of the window,
           and it emitted the window (or the window had none). Late rows are dropped and counted
           in the `late` column of a row without a window. This also keeps every match's
           windows in windowStart order across batches: once a window is out, no earlier one of
           the same match can follow.
Timers: one per open window, at windowEnd + graceMs.

Input rows (PartialCounts, transform.PARTIAL_DDL): matchId, windowStartMs, idx (catalog index),
n (how many). The per-batch pre-count makes n large and the rows few.
Output rows (OUTPUT_DDL): matchId, windowStartMs, late, c (counts per catalog emoji, in
catalog order); a window row has late = 0, a late-drop row has windowStartMs = -1 and c all zeros.
They are encoded in the plan (transform.encode_closed) and written by spark/jvm AggregateSink.
"""
OUTPUT_DDL = "matchId string, windowStartMs long, late long, c array<long>"
