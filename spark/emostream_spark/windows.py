"""Windows closed by processing time: the job's one stateful step, and the driver-side encoder of
the windows it closes.

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
"""
from __future__ import annotations

from typing import Sequence, Tuple

OUTPUT_DDL = "matchId string, windowStartMs long, late long, c array<long>"


def encode_window(match_id: str, start_ms: int, counts: Sequence[int], catalog, rules, schema_id: int) -> Tuple[bytes, bytes]:
    """One closed window -> its Kafka key and value, on the driver: the same rules and bytes as
    transform.encode_from_counts (Catalyst) and the TypeScript aggregator: counts in catalog
    order (count > 0), units for the top N by count desc then catalog index, ceil(c / scale),
    sentiment = double(sum(c * valenceCenti)) / double(100 * total), Avro maps as one block."""
    from .avro_binary import encode_aggregate
    from .confluent import frame

    c = [int(x) for x in counts]
    present = [i for i in range(len(catalog)) if c[i] > 0]
    ranked = sorted(present, key=lambda i: (-c[i], i))[:rules.top_n]
    total = sum(c)
    num = sum(c[i] * catalog[i].valence_centi for i in present)
    rec = {
        "matchId": match_id, "windowStart": start_ms, "windowEnd": start_ms + rules.window_ms,
        "counts": {catalog[i].emoji: c[i] for i in present},
        "units": {catalog[i].emoji: -(-c[i] // rules.unit_scale) for i in ranked},
        "total": total,
        "sentiment": float(num) / float(100 * total),
    }
    return f"{match_id}|{start_ms}".encode("utf-8"), frame(schema_id, encode_aggregate(rec))
