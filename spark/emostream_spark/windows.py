"""Windows closed by processing time: the job's one stateful step (transformWithStateInPandas).

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
  windows: map windowStartMs -> counts per catalog emoji (the open windows)
  seenAt:  the timestamp of the last batch that had input or a timer for this match. A row whose
           window closes (end + graceMs) at or before it is late: that batch read every offset
           available at its start, so it already held every acknowledged reaction of the window,
           and it emitted the window (or the window had none). Late rows are dropped and counted
           in the `late` column of a row without a window. This also keeps every match's
           windows in windowStart order across batches: once a window is out, no earlier one of
           the same match can follow.
Timers: one per open window, at windowEnd + graceMs.

Input rows (see counts_input): matchId, windowStartMs, idx (catalog index), n (how many). The
per-batch pre-aggregation (partial_counts) makes n large and the rows few.
Output rows (OUTPUT_SCHEMA): matchId, windowStartMs, late, c (counts per catalog emoji, in
catalog order); a window row has late = 0, a late-drop row has windowStartMs = -1 and c all zeros.
"""
from __future__ import annotations

from typing import Iterator, List, Sequence, Tuple

from pyspark.sql.streaming.stateful_processor import (
    ExpiredTimerInfo, StatefulProcessor, StatefulProcessorHandle, TimerValues,
)

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


class WindowCloser(StatefulProcessor):
    """Keyed by matchId. window_ms / grace_ms / n_emojis come from aggregation.json and the
    catalog; they are part of the state layout (a new checkpoint when they change)."""

    def __init__(self, window_ms: int, grace_ms: int, n_emojis: int) -> None:
        self.window_ms = int(window_ms)
        self.grace_ms = int(grace_ms)
        self.n = int(n_emojis)

    def init(self, handle: StatefulProcessorHandle) -> None:
        self.handle = handle
        self.windows = handle.getMapState("windows", "windowStartMs long", "c array<long>")
        self.seen_at = handle.getValueState("seenAt", "atMs long")

    def _frame(self, rows: List[tuple]):
        import pandas as pd
        return pd.DataFrame(rows, columns=["matchId", "windowStartMs", "late", "c"])

    def _touch(self, now: int) -> None:
        prev = self.seen_at.get()
        if prev is None or prev[0] < now:
            self.seen_at.update((now,))

    def handleInputRows(self, key, rows, timerValues: TimerValues) -> Iterator:
        import numpy as np
        import pandas as pd

        match_id = key[0]
        now = timerValues.getCurrentProcessingTimeInMs()
        df = pd.concat(list(rows), ignore_index=True)
        seen = self.seen_at.get()
        self._touch(now)
        if df.empty:
            return iter([])
        starts = df["windowStartMs"].to_numpy(dtype=np.int64)
        idx = df["idx"].to_numpy(dtype=np.int64)
        n = df["n"].to_numpy(dtype=np.int64)
        late = 0
        if seen is not None:
            is_late = starts + (self.window_ms + self.grace_ms) <= seen[0]
            late = int(n[is_late].sum())
            keep = ~is_late
            starts, idx, n = starts[keep], idx[keep], n[keep]
        for s in np.unique(starts):
            sel = starts == s
            add = np.bincount(idx[sel], weights=n[sel], minlength=self.n).astype(np.int64)
            prev = self.windows.getValue((int(s),))
            if prev is None:
                self.handle.registerTimer(int(s) + self.window_ms + self.grace_ms)
                counts = add
            else:
                counts = np.asarray(prev[0], dtype=np.int64) + add
            self.windows.updateValue((int(s),), ([int(x) for x in counts],))
        if late:
            return iter([self._frame([(match_id, -1, late, [0] * self.n)])])
        return iter([])

    def handleExpiredTimer(self, key, timerValues: TimerValues, expiredTimerInfo: ExpiredTimerInfo) -> Iterator:
        match_id = key[0]
        self._touch(timerValues.getCurrentProcessingTimeInMs())
        start = expiredTimerInfo.getExpiryTimeInMs() - self.grace_ms - self.window_ms
        counts = self.windows.getValue((start,))
        if counts is None:
            return iter([])
        self.windows.removeKey((start,))
        return iter([self._frame([(match_id, start, 0, [int(x) for x in counts[0]])])])

    def close(self) -> None:
        pass
