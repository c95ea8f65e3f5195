"""The streaming plan: the job's own build_pipeline on a streaming source (JSON files carrying the
Kafka `value` bytes, one file per micro-batch) into a memory sink in append mode. Checks the
watermark rules end to end: a window is emitted once, after max(ts) - grace >= windowEnd;
records for a closed window are dropped; the last window stays open while no newer data comes."""
from __future__ import annotations

import base64
import json
import os
import time

from pyspark.sql import functions as F

from emostream_spark import avro_binary as A
from emostream_spark import transform as T
from emostream_spark.confluent import frame, unframe

from helpers import emojis, kafka_values

SCHEMA_ID = 9


def write_batch(directory, name, values, mtime):
    tmp = directory / f".{name}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for v in values:
            f.write(json.dumps({"value": base64.b64encode(v).decode("ascii")}) + "\n")
    os.utime(tmp, (mtime, mtime))
    os.rename(tmp, directory / f"{name}.json")  # the file source lists files in mtime order


def test_streaming_append_mode_with_watermark(spark, schemas, catalog, rules, tmp_path):
    fire, laughing, heart, clapping, party = emojis(catalog, "fire", "laughing", "heart-eyes", "clapping", "party")
    src = tmp_path / "in"
    src.mkdir()
    # Spark uses two watermarks per micro-batch k: EVICTION uses wm(k) = max ts of batches < k
    # minus grace; the LATE-RECORD filter uses wm(k-1), the previous batch's eviction watermark.
    batches = [
        # b0 runs with wm 0; after it wm = 2000 - 500 = 1500
        [("m1", fire, 100), ("m1", laughing, 1999), ("m1", fire, 2000)],
        # b1 runs with wm 1500; after it wm = 1999
        [("m1", clapping, 2499)],
        # b2 runs with wm 1999: [0,2000) stays open (end 2000 > 1999); after it wm = 2000
        [("m1", fire, 1999), ("m1", heart, 2500)],
        # b3 evicts with wm 2000 -> [0,2000) is emitted at the END of b3; its late filter uses
        # wm(b2) = 1999, so fire@1500 still counts in [0,2000). After it wm = 4100.
        [("m2", laughing, 3000), ("m1", fire, 1500), ("m1", party, 4600)],
        # b4: late filter wm 2000 drops fire@1000 ([0,2000) already emitted); eviction wm 4100
        # closes m1|2000 and m2|2000 (the watermark is GLOBAL: m2 has no later event of its own);
        # the unknown emoji at 9000 does not move the watermark, so m1|4000 stays open.
        [("m1", fire, 1000), ("m1", "🦄", 9000)],
    ]
    now = time.time() - 100
    for k, rows in enumerate(batches):
        write_batch(src, f"b{k}", kafka_values(rows, schema_id=3), now + k)

    kafka_like = (spark.readStream.schema("value string").option("maxFilesPerTrigger", 1).json(str(src))
                  .select(F.unbase64("value").alias("value")))
    out = T.build_pipeline(kafka_like, schemas, SCHEMA_ID, rules)
    assert out.isStreaming
    query = (out.writeStream.format("memory").queryName("emostream_stream_test").outputMode("append")
             .option("checkpointLocation", str(tmp_path / "ckpt"))
             .trigger(availableNow=True).start())
    try:
        assert query.awaitTermination(90), "streaming query did not finish"
        assert query.exception() is None
        rows = spark.table("emostream_stream_test").collect()
        got = {r.key: bytes(r.value) for r in rows}
        progress = query.recentProgress
    finally:
        if query.isActive:
            query.stop()

    decoded = {k: A.decode_aggregate(unframe(v)[1]) for k, v in got.items()}
    # each window exactly once (append mode), and m1|4000 still open (4100 < 6000)
    assert sorted(r.key for r in rows) == ["m1|0", "m1|2000", "m2|2000"], decoded
    assert decoded["m1|0"]["counts"] == [(fire, 3), (laughing, 1)]  # fire@100, @1999, @1500; not @1000
    assert decoded["m1|2000"]["counts"] == [(fire, 1), (heart, 1), (clapping, 1)]
    assert decoded["m2|2000"]["counts"] == [(laughing, 1)]
    expected_m1_0 = {"matchId": "m1", "windowStart": 0, "windowEnd": 2000, "counts": {fire: 3, laughing: 1},
                     "units": {fire: 1, laughing: 1}, "total": 4, "sentiment": (3 * 80 + 70) / 400}
    assert got["m1|0"] == frame(SCHEMA_ID, A.encode_aggregate(expected_m1_0))

    data_batches = [p for p in progress if p["numInputRows"] > 0]
    assert [p["numInputRows"] for p in data_batches] == [3, 1, 2, 3, 2]
    assert [p["sink"]["numOutputRows"] for p in data_batches] == [0, 0, 0, 1, 2]  # m1|0 at the end of b3
    assert [p["eventTime"]["watermark"][11:23] for p in data_batches] == [
        "00:00:00.000", "00:00:01.500", "00:00:01.999", "00:00:02.000", "00:00:04.100"]
    dropped = [sum(o.get("numRowsDroppedByWatermark", 0) for o in p["stateOperators"]) for p in data_batches]
    assert dropped == [0, 0, 0, 0, 1]


def test_sink_writes_each_batch_in_window_order(spark, schemas, catalog, rules, tmp_path):
    """One micro-batch that closes several windows of the same match (here: 4 windows x 3
    matches, closed together by the watermark jump of one batch) is spread over the shuffle
    partitions, and the Kafka sink would write each partition from its own task, so the order on
    the topic would be arbitrary. The job's foreachBatch writer (job.kafka_batch_writer) writes
    transform.sink_order(batch): one partition, sorted by (windowStart, matchId). This drives the
    job's own pipeline through foreachBatch and checks that order and that the values are the
    reference bytes (sorting never changes a value)."""
    from helpers import reference_aggregates

    fire, laughing, crying, football = emojis(catalog, "fire", "laughing", "crying", "football")
    src = tmp_path / "in"
    src.mkdir()
    base = 1_700_000_000_000
    rows = []
    # b0: 3 matches x windows [0,2000) .. [6000,8000) of base, written newest match/window first so
    # no accidental order helps; plus one m3 record at +8600: wm after b0 = base + 8100.
    for w in (3, 1, 0, 2):
        for m in ("m3", "m1", "m2"):
            for j, e in enumerate((fire, laughing, crying, football, fire)):
                rows.append((m, e, base + w * 2000 + 100 * j + (7 if m == "m2" else 0)))
    rows.append(("m3", fire, base + 8600))
    batches = [rows, [("flush", fire, base + 30_000)]]
    now = time.time() - 100
    for k, b in enumerate(batches):
        write_batch(src, f"b{k}", kafka_values(b, schema_id=3), now + k)

    captured = []  # (batch id, partitions of the raw batch, partitions after sink_order, rows in write order)

    def capture(batch_df, batch_id):
        ordered = T.sink_order(batch_df)
        captured.append((batch_id, batch_df.rdd.getNumPartitions(), ordered.rdd.getNumPartitions(),
                         [(r.key, bytes(r.value)) for r in ordered.collect()]))

    kafka_like = (spark.readStream.schema("value string").option("maxFilesPerTrigger", 1).json(str(src))
                  .select(F.unbase64("value").alias("value")))
    out = T.build_pipeline(kafka_like, schemas, SCHEMA_ID, rules, order_columns=True)
    query = (out.writeStream.foreachBatch(capture).outputMode("append")
             .option("checkpointLocation", str(tmp_path / "ckpt")).trigger(availableNow=True).start())
    try:
        assert query.awaitTermination(90), "streaming query did not finish"
        assert query.exception() is None
    finally:
        if query.isActive:
            query.stop()

    # b1 closes the 12 windows ending <= base + 8100 together; the final no-data batch (flush's
    # watermark) closes m3|8000.
    multi = [c for c in captured if len(c[3]) > 1]
    assert len(multi) == 1, [(c[0], [k for k, _ in c[3]]) for c in captured]
    _, raw_parts, ordered_parts, written = multi[0]
    assert raw_parts > 1  # the hazard: the closed windows come from several partitions
    assert ordered_parts == 1
    keys = [k for k, _ in written]

    def sort_key(k):
        m, _, start = k.rpartition("|")
        return int(start), m

    assert keys == sorted(keys, key=sort_key)
    assert len(keys) == 12 and len(set(keys)) == 12
    exp = reference_aggregates(rows, catalog, rules.window_ms, rules.unit_scale, rules.top_n)
    want = {f"{m}|{s}": frame(SCHEMA_ID, A.encode_aggregate(rec)) for (m, s), rec in exp.items()
            if s + rules.window_ms <= base + 8100}
    assert dict(written) == want
    # the whole output, batch after batch: every match's windows in windowStart order, each once
    everything = [k for c in sorted(captured) for k, _ in c[3]]
    for m in ("m1", "m2", "m3"):
        starts = [int(k.rpartition("|")[2]) for k in everything if k.startswith(m + "|")]
        assert starts == [base + w * 2000 for w in range(4 if m != "m3" else 5)]


def test_the_test_session_listens_on_loopback_only(spark):
    """The driver (RPC, block manager) binds where SPARK_LOCAL_IP says, loopback by default: a
    session started here must not listen on the machine's external interface."""
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert conf.get("spark.driver.host") == "127.0.0.1"
