"""The streaming plan: the job's own build_pipeline (windows closed by a processing-time timer at
end + grace, spark/jvm WindowCloser) started as the job starts it (PhasedStart) on a streaming file source (JSON files carrying the Kafka
`value` bytes) and the job's own sink (spark/jvm AggregateSink), on the real clock. Checks
that a window closes on an idle stream in the first batch that starts at or after its end +
grace, that rows for a window already out are dropped and counted as late, that a batch closing
many windows gives them in (windowStart, matchId) order, and that the state survives a restart
from the checkpoint."""
from __future__ import annotations

import base64
import json
import os
import time

from pyspark.sql import functions as F

from emostream_spark import avro_binary as A
from emostream_spark import job as J
from emostream_spark import transform as T
from emostream_spark.confluent import frame

from helpers import emojis, kafka_values, reference_aggregates

SCHEMA_ID = 9
TRIGGER_MS = 500


def write_batch(directory, name, values):
    tmp = directory / f".{name}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for v in values:
            f.write(json.dumps({"value": base64.b64encode(v).decode("ascii")}) + "\n")
    os.rename(tmp, directory / f"{name}.json")


def now_ms() -> int:
    return int(time.time() * 1000)


class Run:
    """A streaming query of build_pipeline into the job's batch encoding, capturing per batch id
    the records (key, value) in write order and the late count."""

    def __init__(self, spark, schemas, rules, src, ckpt):
        kafka_like = (spark.readStream.schema("value string").option("maxFilesPerTrigger", 1).json(str(src))
                      .select(F.unbase64("value").alias("value")))
        out = T.build_pipeline(kafka_like, schemas, SCHEMA_ID, rules)
        assert out.isStreaming

        # The job's own start and sink (PhasedStart, AggregateSink), its records kept in memory;
        # at this trigger the phase (grace mod trigger) is 0.
        self.capture = spark.sparkContext._jvm.io.emostream.spark.RecordCapture(1000)
        self.query, self.sink = J.start_phased(out, J.aggregate_encoder(spark, schemas.catalog, rules, SCHEMA_ID),
                                               self.capture, None, str(ckpt), TRIGGER_MS, rules.grace_ms % TRIGGER_MS)

    @property
    def batches(self):
        """Per batch id the sink saw: (records (key, value) in write order, late count)."""
        out = {}
        for b in self.progress():
            st = self.sink.stats(b)  # windows written, late, sink phases; None for a batch it did not see
            written, late = (st[0], st[1]) if st is not None else (0, 0)
            out[b] = ([(bytes(k).decode(), bytes(v)) for k, v in zip(self.capture.keys(b), self.capture.values(b))], late)
            assert len(out[b][0]) == written
        return out

    def progress(self):
        return {p["batchId"]: p for p in self.query.recentProgress}

    def wait(self, cond, timeout_s=90):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            assert self.query.exception() is None, self.query.exception()
            if cond():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out; batches: {self.batches}")

    def written(self):
        batches = self.batches
        return [kv for b in sorted(batches) for kv in batches[b][0]]

    def late(self):
        return sum(late for _, late in self.batches.values())

    def stop(self):
        if self.query.isActive:
            self.query.stop()


def batch_time(progress) -> int:
    from datetime import datetime
    return int(datetime.fromisoformat(progress["timestamp"].replace("Z", "+00:00")).timestamp() * 1000)


def test_a_window_closes_on_an_idle_stream_within_one_trigger(spark, schemas, catalog, rules, tmp_path):
    fire, laughing, heart = emojis(catalog, "fire", "laughing", "heart-eyes")
    src = tmp_path / "in"
    src.mkdir()
    w = rules.window_ms
    # Data for one window a few seconds ahead (ts <= receivedAt, so ts places it), then nothing:
    # the first batch reads it long before the window closes, and the stream stays idle.
    start = ((now_ms() + 4 * w) // w) * w
    rows = [("m1", fire, start + 1), ("m1", laughing, start + 2), ("m2", heart, start + 3), ("m1", fire, start + 4)]
    write_batch(src, "b0", kafka_values(rows, schema_id=3))
    close_at = start + w + rules.grace_ms
    run = Run(spark, schemas, rules, src, tmp_path / "ckpt")
    try:
        run.wait(lambda: len(run.written()) >= 2)
        progress = run.progress()
    finally:
        run.stop()
    exp = reference_aggregates(rows, catalog, rules.window_ms, rules.unit_scale, rules.top_n)
    want = [(f"{m}|{s}", frame(SCHEMA_ID, A.encode_aggregate(exp[(m, s)]))) for (m, s) in sorted(exp, key=lambda k: k[1:] + k[:1])]
    assert run.written() == want
    emitted_in = [b for b, (recs, _) in run.batches.items() if recs]
    assert len(emitted_in) == 1, run.batches
    b = emitted_in[0]
    # Emitted by the first batch whose timestamp is at or past end + grace, none before it...
    assert batch_time(progress[b]) >= close_at
    assert all(batch_time(progress[k]) < close_at for k in progress if k < b)
    # ...which started at most one trigger after end + grace, or right after a batch that was
    # still running then (a shared 2-core machine can stretch one).
    prev_end = max((batch_time(progress[k]) + progress[k]["durationMs"]["triggerExecution"] for k in progress if k < b),
                   default=0)
    assert batch_time(progress[b]) <= max(close_at + TRIGGER_MS, prev_end) + 250, (close_at, progress[b]["timestamp"])
    assert progress[b]["numInputRows"] == 0  # no input moved anything: processing time closed it
    assert run.late() == 0


def test_rows_for_a_window_already_out_are_late_and_dropped(spark, schemas, catalog, rules, tmp_path):
    fire, laughing, clapping = emojis(catalog, "fire", "laughing", "clapping")
    src = tmp_path / "in"
    src.mkdir()
    w = rules.window_ms
    start = ((now_ms() - 2 * w) // w) * w
    first = [("m1", fire, start + 10), ("m2", laughing, start + 20)]
    write_batch(src, "b0", kafka_values(first, schema_id=3))
    run = Run(spark, schemas, rules, src, tmp_path / "ckpt")
    try:
        run.wait(lambda: len(run.written()) >= 2)
        # m1's window is out: its rows are late now; m1's window ahead and m3 still count.
        nxt = ((now_ms() + 2 * w) // w) * w
        second = [("m1", fire, start + 30), ("m1", clapping, start + 40), ("m1", laughing, nxt + 5), ("m3", fire, start + 50)]
        write_batch(src, "b1", kafka_values(second, schema_id=3))
        run.wait(lambda: len(run.written()) >= 3 and run.late() >= 2)
        time.sleep((nxt + w + rules.grace_ms - now_ms()) / 1000 + 1.5)
        run.wait(lambda: len(run.written()) >= 4)
    finally:
        run.stop()
    keys = [k for k, _ in run.written()]
    assert run.late() == 2
    assert sorted(keys) == sorted([f"m1|{start}", f"m2|{start}", f"m1|{nxt}", f"m3|{start}"])
    # m3 had no window out: its reaction for a past window still counts (its first batch).
    got = dict(run.written())
    assert A.decode_aggregate(got[f"m1|{start}"][5:])["counts"] == [(fire, 1)]
    # every match's windows in windowStart order
    m1 = [int(k.rpartition("|")[2]) for k in keys if k.startswith("m1|")]
    assert m1 == sorted(m1)


def test_one_batch_closing_many_windows_writes_them_in_order(spark, schemas, catalog, rules, tmp_path):
    """A backlog (or a restart) closes many windows of every match in one batch; they come from
    several state partitions, and the writer puts them in (windowStart, matchId) order."""
    fire, laughing, crying, football = emojis(catalog, "fire", "laughing", "crying", "football")
    src = tmp_path / "in"
    src.mkdir()
    base = ((now_ms() - 60_000) // rules.window_ms) * rules.window_ms
    rows = []
    for w in (3, 1, 0, 2):
        for m in ("m3", "m1", "m2"):
            for j, e in enumerate((fire, laughing, crying, football, fire, "🦄")):
                rows.append((m, e, base + w * 2000 + 100 * j + (7 if m == "m2" else 0)))
    write_batch(src, "b0", kafka_values(rows, schema_id=3))
    run = Run(spark, schemas, rules, src, tmp_path / "ckpt")
    try:
        run.wait(lambda: len(run.written()) >= 12)
    finally:
        run.stop()
    written = run.written()
    exp = reference_aggregates(rows, catalog, rules.window_ms, rules.unit_scale, rules.top_n)
    assert dict(written) == {f"{m}|{s}": frame(SCHEMA_ID, A.encode_aggregate(rec)) for (m, s), rec in exp.items()}
    keys = [k for k, _ in written]

    def sort_key(k):
        m, _, start = k.rpartition("|")
        return int(start), m

    assert keys == sorted(keys, key=sort_key) and len(set(keys)) == 12
    assert len([b for b, (recs, _) in run.batches.items() if recs]) == 1


def test_open_windows_survive_a_restart_from_the_checkpoint(spark, schemas, catalog, rules, tmp_path):
    fire, laughing = emojis(catalog, "fire", "laughing")
    src = tmp_path / "in"
    src.mkdir()
    w = rules.window_ms
    # A window that closes far enough ahead that the first run reads it and stops before.
    start = ((now_ms() + 6 * w) // w) * w
    rows = [("m1", fire, start + 1), ("m1", laughing, start + 2)]
    write_batch(src, "b0", kafka_values(rows, schema_id=3))
    run = Run(spark, schemas, rules, src, tmp_path / "ckpt")
    try:
        run.wait(lambda: any(p["numInputRows"] > 0 for p in run.progress().values()))
    finally:
        run.stop()
    assert run.written() == []
    write_batch(src, "b1", kafka_values([("m1", fire, start + 3)], schema_id=3))
    run2 = Run(spark, schemas, rules, src, tmp_path / "ckpt")
    try:
        run2.wait(lambda: len(run2.written()) >= 1, timeout_s=120)
    finally:
        run2.stop()
    all_rows = rows + [("m1", fire, start + 3)]
    exp = reference_aggregates(all_rows, catalog, rules.window_ms, rules.unit_scale, rules.top_n)
    assert run2.written() == [(f"m1|{start}", frame(SCHEMA_ID, A.encode_aggregate(exp[("m1", start)])))]


def test_a_phased_trigger_runs_its_batches_past_the_multiples_of_its_interval(spark, tmp_path):
    """The job's start (PhasedStart) moves the processing-time trigger: with a 1000 ms interval and
    a 600 ms phase, batches start 600 ms past each second (Spark alone starts them on the second),
    and their timestamps (what fires the window timers) are the real time."""
    from datetime import datetime

    stream = (spark.readStream.format("rate").option("rowsPerSecond", 5).load()
              .select(F.lit("m").alias("matchId"), F.col("value").alias("windowStartMs"),
                      F.lit(0).cast("long").alias("late"), F.array(F.lit(1).cast("long")).alias("c")))
    jvm = spark.sparkContext._jvm
    capture = jvm.io.emostream.spark.RecordCapture(100)
    encoder = jvm.io.emostream.spark.AggregateEncoder(["x"], [0], 2000, 1000, 8, 1)
    q, _ = J.start_phased(stream, encoder, capture, "phase-test", str(tmp_path / "ckpt"), 1000, 600)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(q.recentProgress) < 5:
            assert q.exception() is None, q.exception()
            time.sleep(0.1)
        seen_at = now_ms()
    finally:
        q.stop()
    # The first batch runs at once; the later ones on the phased grid.
    starts = [int(datetime.fromisoformat(p["timestamp"].replace("Z", "+00:00")).timestamp() * 1000)
              for p in q.recentProgress[1:]]
    assert len(starts) >= 4, q.recentProgress
    assert [t % 1000 for t in starts if not 600 <= t % 1000 < 1000] == []
    assert set(capture.batchIds()) >= {1, 2, 3}
    assert 0 <= seen_at - starts[-1] < 3000  # the real time, not the phased wait's


def test_the_warm_up_runs_the_plan_on_packed_records_without_failing(spark, schemas, caplog):
    """The job's warm-up (made-up packed reactions through build_pipeline) is best effort: it logs
    and goes on when it fails, so check here that it does not."""
    import logging

    with caplog.at_level(logging.INFO, logger="emostream_spark.job"):
        J.warm_up(spark, schemas, SCHEMA_ID, packed_ids=[7])
    text = caplog.text
    assert "warm-up done" in text and "warm-up failed" not in text and "warm-up skipped" not in text, text


def test_the_test_session_listens_on_loopback_only(spark):
    """The driver (RPC, block manager) binds where SPARK_LOCAL_IP says, loopback by default: a
    session started here must not listen on the machine's external interface."""
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert conf.get("spark.driver.host") == "127.0.0.1"
