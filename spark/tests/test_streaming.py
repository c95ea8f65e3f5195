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
