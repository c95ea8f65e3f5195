"""Kafka framing: Confluent header strip/encode, Avro bytes equal to the avsc-style reference,
keys 'matchId|windowStart'."""
from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from emostream_spark import avro_binary as A
from emostream_spark import transform as T
from emostream_spark.confluent import frame, header, unframe

from helpers import emojis, kafka_values, reactions_df, reference_aggregates

SCHEMA_ID = 0x01020304
BIG = 1_700_000_000_000


def rows(catalog):
    fire, laughing, heart, crying, football = emojis(catalog, "fire", "laughing", "heart-eyes", "crying", "football")
    out = [("m-1", fire, 0), ("m-1", fire, 1999), ("m-1", laughing, 2000), ("m-1", crying, 3999)]
    out += [("match ü/2", e, BIG + 1) for e in [football] * 3 + [heart] * 3 + [fire] + [crying] * 2]
    out += [("m-1", "🦄", 10)]
    return out


@pytest.fixture(scope="module")
def encoded(spark, catalog, rules):
    df = T.filter_catalog(reactions_df(spark, rows(catalog)), catalog)
    counts = T.window_counts(df, catalog, rules)
    return T.encode_from_counts(counts, catalog, rules, SCHEMA_ID).collect()


@pytest.fixture(scope="module")
def expected(catalog, rules):
    return reference_aggregates(rows(catalog), catalog, rules.window_ms, rules.unit_scale, rules.top_n)


def test_keys_are_match_id_pipe_window_start_ms(encoded):
    assert sorted(r.key for r in encoded) == sorted(["m-1|0", "m-1|2000", f"match ü/2|{BIG}"])
    assert all(isinstance(r.key, str) for r in encoded)  # the Kafka sink writes a string key as UTF-8


def test_value_starts_with_confluent_header(encoded):
    for r in encoded:
        v = bytes(r.value)
        assert v[:5] == b"\x00\x01\x02\x03\x04"
        assert unframe(v)[0] == SCHEMA_ID


def test_value_bytes_equal_the_reference_encoding(encoded, expected):
    """Byte-for-byte what avsc writes for the same record (maps in insertion order, one block)."""
    by_key = {r.key: bytes(r.value) for r in encoded}
    for (m, start), rec in expected.items():
        assert by_key[f"{m}|{start}"] == frame(SCHEMA_ID, A.encode_aggregate(rec)), (m, start)


def test_units_map_entries_in_rank_order_on_the_wire(encoded, catalog):
    fire, heart, crying, football = emojis(catalog, "fire", "heart-eyes", "crying", "football")
    v = {r.key: bytes(r.value) for r in encoded}[f"match ü/2|{BIG}"]
    rec = A.decode_aggregate(unframe(v)[1])
    assert rec["counts"] == [(fire, 1), (heart, 3), (crying, 2), (football, 3)]  # catalog order
    assert rec["units"] == [(heart, 1), (football, 1), (crying, 1), (fire, 1)]   # count desc, catalog idx
    assert rec["total"] == 9
    assert rec["sentiment"] == (80 + 3 * 90 + 2 * -60 + 3 * 30) / 900


def test_value_decodes_with_spark_avro_and_aggregate_avsc(spark, encoded, schemas, expected):
    df = spark.createDataFrame([(r.key, bytearray(r.value)) for r in encoded], "key string, value binary")
    got = T.decode_aggregates(df, schemas.aggregate_avsc).select(
        "matchId", F.unix_millis("windowStart").alias("ws"), F.unix_millis("windowEnd").alias("we"),
        "counts", "units", "total", "sentiment").collect()
    assert len(got) == len(expected)
    for r in got:
        exp = expected[(r.matchId, r.ws)]
        assert (r.we, dict(r.counts), dict(r.units), r.total, r.sentiment) == (
            exp["windowEnd"], exp["counts"], exp["units"], exp["total"], exp["sentiment"])


def test_confluent_frame_round_trip():
    body = A.encode_aggregate({"matchId": "m", "windowStart": 2000, "windowEnd": 4000, "counts": {"🔥": 1001},
                               "units": {"🔥": 2}, "total": 1001, "sentiment": 0.8})
    framed = frame(7, body)
    assert framed[:5] == b"\x00\x00\x00\x00\x07" and header(7) == framed[:5]
    assert header(2 ** 32 - 1) == b"\x00\xff\xff\xff\xff"
    assert unframe(framed) == (7, body)
    assert A.decode_aggregate(body)["units"] == [("🔥", 2)]
    with pytest.raises(ValueError):
        unframe(b"\x01" + framed[1:])
    with pytest.raises(ValueError):
        unframe(b"\x00\x00\x01")


def test_decode_reactions_strips_header_and_drops_bad_frames(spark, schemas, catalog):
    (fire,) = emojis(catalog, "fire")
    good = kafka_values([("m", fire, 1999), ("n", "🦄", 2000)], schema_id=42)
    other_id = kafka_values([("o", fire, 4001)], schema_id=99)  # header id is ignored for decoding
    bad_magic = b"\x01" + good[0][1:]
    too_short = b"\x00\x00\x00"
    garbage = b"\x00\x00\x00\x00\x2a" + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"
    df = spark.createDataFrame([(bytearray(v),) for v in good + other_id + [bad_magic, too_short, garbage]],
                               "value binary")
    got = (T.decode_reactions(df, schemas.reaction_avsc)
           .select("matchId", "userId", "emoji", F.unix_millis("ts").alias("ts"),
                   F.unix_millis("receivedAt").alias("receivedAt"))
           .orderBy("matchId").collect())
    assert [tuple(r) for r in got] == [("m", "u0", fire, 1999, 2002), ("n", "u1", "🦄", 2000, 2003),
                                       ("o", "u0", fire, 4001, 4004)]


def test_decode_reactions_explodes_packed_records_by_schema_id(spark, schemas, catalog, rules):
    """A topic of ReactionBatch records (ids in packed_ids) and single records gives the same
    reactions, and the same aggregates, as the same reactions sent one per record."""
    data = rows(catalog)
    singles = kafka_values(data, schema_id=5)
    by_match = {}
    for i, (m, e, ts) in enumerate(data):
        by_match.setdefault((m, ts + 3), []).append({"userId": f"u{i}", "emoji": e, "ts": ts})
    packed = [frame(7, A.encode_reaction_batch({"matchId": m, "receivedAt": rcv, "reactions": items}))
              for (m, rcv), items in by_match.items()]
    half = len(packed) // 2
    empty = frame(7, A.encode_reaction_batch({"matchId": "m", "receivedAt": 1, "reactions": []}))
    truncated = packed[0][:-4]
    mixed = packed[:half] + singles[-3:] + packed[half:] + [empty, truncated]
    df = spark.createDataFrame([(bytearray(v),) for v in mixed], "value binary")
    cols = ("matchId", "userId", "emoji", F.unix_millis("ts").alias("ts"), F.unix_millis("receivedAt").alias("receivedAt"))
    got = sorted(tuple(r) for r in T.decode_reactions(df, schemas.reaction_avsc, reaction_batch_avsc=schemas.reaction_batch_avsc,
                                                      packed_ids=[7]).select(*cols).collect())
    want = sorted([(m, f"u{i}", e, ts, ts + 3) for i, (m, e, ts) in enumerate(data)]
                  + [(m, f"u{len(data) - 3 + j}", e, ts, ts + 3) for j, (m, e, ts) in enumerate(data[-3:])])
    assert got == want
    # Same aggregates as one record per reaction.
    df_packed = spark.createDataFrame([(bytearray(v),) for v in packed], "value binary")
    out = {r.key: bytes(r.value) for r in T.build_pipeline(df_packed, schemas, SCHEMA_ID, rules, packed_ids=[7]).collect()}
    exp = reference_aggregates(data, catalog, rules.window_ms, rules.unit_scale, rules.top_n)
    assert out == {f"{m}|{s}": frame(SCHEMA_ID, A.encode_aggregate(rec)) for (m, s), rec in exp.items()}


def test_confluent_schema_id_column(spark):
    df = spark.createDataFrame([(bytearray(header(0x0A0B0C0D) + b"x"),)], "value binary")
    assert df.select(T.confluent_schema_id(F.col("value"))).first()[0] == 0x0A0B0C0D


def test_build_pipeline_on_a_batch_of_kafka_rows(spark, schemas, catalog, rules):
    data = rows(catalog)
    df = spark.createDataFrame([(bytearray(v),) for v in kafka_values(data, schema_id=5)], "value binary")
    out = {r.key: bytes(r.value) for r in T.build_pipeline(df, schemas, SCHEMA_ID, rules).collect()}
    exp = reference_aggregates(data, catalog, rules.window_ms, rules.unit_scale, rules.top_n)
    assert out == {f"{m}|{s}": frame(SCHEMA_ID, A.encode_aggregate(rec)) for (m, s), rec in exp.items()}


def test_encoder_refuses_a_changed_aggregate_schema(schemas):
    T.check_aggregate_schema(schemas.aggregate_avsc)
    changed = json.loads(schemas.aggregate_avsc)
    changed["fields"].insert(3, {"name": "extra", "type": "int"})
    with pytest.raises(ValueError, match="aggregate.avsc"):
        T.check_aggregate_schema(json.dumps(changed))


@pytest.mark.parametrize("n, wire", [(0, "00"), (-1, "01"), (1, "02"), (63, "7e"), (64, "8001"),
                                     (-65, "8101"), (2000, "a01f"), (BIG, "80a0abfef962")])
def test_avro_long_reference_encoding(n, wire):
    assert A.encode_long(n).hex() == wire
    assert A.Reader(A.encode_long(n)).long() == n


def test_the_sinks_encoder_matches_the_reference_and_catalyst(spark, schemas, catalog, rules):
    """The job's sink encodes the windows it closes on the JVM (spark/jvm AggregateEncoder); the
    batch path encodes with Catalyst (encode_from_counts). Both give the plain-Python spec's key
    and value bytes for every count shape: ties (catalog order breaks them), more emojis than top
    N, counts above and below the unit scale, one emoji only, a match id outside ASCII."""
    import random

    from emostream_spark.job import aggregate_encoder
    from helpers import reference_aggregate

    rnd = random.Random(7)
    n = len(catalog)
    cases = [[0] * (n - 1) + [1], [5] * n, [rnd.choice([0, 1, 999, 1000, 1001, 2500, 7]) for _ in range(n)]]
    cases += [[rnd.randint(0, 3000) if rnd.random() < 0.7 else 0 for _ in range(n)] for _ in range(20)]
    cases = [c for c in cases if sum(c) > 0]
    data = [(f"m{j}" if j else "méx-🦄", 1_700_000_000_000 + 2000 * j, *c) for j, c in enumerate(cases)]
    want = {f"{m}|{ws}": frame(SCHEMA_ID, A.encode_aggregate(
        reference_aggregate(m, ws, c, catalog, rules.window_ms, rules.unit_scale, rules.top_n)))
        for m, ws, *c in data}
    enc = aggregate_encoder(spark, catalog, rules, SCHEMA_ID)
    jvm = {bytes(r.key()).decode(): bytes(r.value()) for r in (enc.encode(m, ws, c) for m, ws, *c in data)}
    ddl = "matchId string, ws long, " + ", ".join(f"_c{i} long" for i in range(n))
    df = (spark.createDataFrame(data, ddl)
          .select("matchId", F.timestamp_millis("ws").alias("windowStart"),
                  F.timestamp_millis(F.col("ws") + rules.window_ms).alias("windowEnd"), *[f"_c{i}" for i in range(n)]))
    catalyst = {r.key: bytes(r.value) for r in T.encode_from_counts(df, catalog, rules, SCHEMA_ID).collect()}
    assert jvm == want
    assert catalyst == want
    assert len(want) == len(cases)
