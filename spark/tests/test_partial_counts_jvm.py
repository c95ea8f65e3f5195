"""PartialCounts (spark/jvm), the streaming job's decode and per-partition count, gives the rows of
the SQL and Arrow reference path (decode_reactions, filter_catalog, window_rows, partial_counts) on
the same Kafka values, the awkward ones included."""
from __future__ import annotations

import json

import pytest

from emostream_spark import avro_binary as A
from emostream_spark import transform as T
from emostream_spark.confluent import frame

from helpers import emojis

PACKED = 7
BIG = 1_700_000_000_000


def reaction(m, u, e, ts, rcv, schema_id=5):
    return frame(schema_id, A.encode_reaction({"matchId": m, "userId": u, "emoji": e, "ts": ts, "receivedAt": rcv}))


def batch(m, rcv, items):
    return frame(PACKED, A.encode_reaction_batch({"matchId": m, "receivedAt": rcv,
                                                  "reactions": [{"userId": u, "emoji": e, "ts": ts} for u, e, ts in items]}))


def batch_negative_block(m, rcv, items):
    """The same record with its array written as one block of negative count, then its size in
    bytes (allowed by the Avro spec; avsc and Spark's reader both read it)."""
    body = b"".join(A.encode_string(u) + A.encode_string(e) + A.encode_long(ts) for u, e, ts in items)
    return frame(PACKED, A.encode_string(m) + A.encode_long(rcv) + A.encode_long(-len(items))
                 + A.encode_long(len(body)) + body + A.encode_long(0))


def values(catalog, rules):
    fire, laughing, heart = emojis(catalog, "fire", "laughing", "heart-eyes")
    tol = rules.ts_tolerance_ms
    v = []
    # Singles: trusted ts, ts ahead of receivedAt, ts too far behind, window edges, before the epoch.
    v += [reaction("a", "u1", fire, BIG + 1999, BIG + 2001), reaction("a", "u2", fire, BIG + 2001, BIG + 1999),
          reaction("a", "u3", laughing, BIG + 100, BIG + 100 + tol), reaction("a", "u4", laughing, BIG + 99, BIG + 100 + tol),
          reaction("b", "u5", heart, -1, -1), reaction("b", "u6", heart, -2001, -2000)]
    # Any schema id that is not a packed one reads as a single reaction.
    v += [reaction("b", "u7", fire, 4000, 4000, schema_id=99)]
    # Packed: several windows and emojis in one record, unknown emojis among them.
    v += [batch("a", BIG + 4003, [("u8", fire, BIG + 4000), ("u9", "🦄", BIG + 4001), ("u10", heart, BIG + 3999),
                                  ("u11", fire, BIG + 9999), ("u12", laughing, BIG + 3990)])]
    v += [batch_negative_block("c", 10_000, [("u13", fire, 9_990), ("u14", fire, 9_995), ("u15", "x", 9_999)])]
    # Dropped whole: bad magic, too short, a varint that never ends, a truncated batch, an empty one.
    good = batch("d", 20_000, [("u16", fire, 20_000), ("u17", heart, 20_000)])
    v += [b"\x01" + good[1:], b"\x00\x00\x00", b"\x00\x00\x00\x00\x2a" + b"\xff" * 10 + b"\x01", good[:-4],
          batch("e", 30_000, [])]
    # Unknown emojis only: no row for that match.
    v += [reaction("ghost", "u18", "🦄", 5000, 5000), reaction("ghost", "u19", fire + " ", 5000, 5000)]
    return v


def reference_rows(df, schemas, catalog, rules):
    reactions = T.filter_catalog(T.decode_reactions(df, schemas.reaction_avsc, reaction_batch_avsc=schemas.reaction_batch_avsc,
                                                    packed_ids=[PACKED]), catalog)
    return sorted(tuple(r) for r in T.partial_counts(T.window_rows(reactions, catalog, rules)).collect())


def test_the_jvm_counts_equal_the_sql_reference(spark, schemas, catalog, rules):
    df = spark.createDataFrame([(bytearray(x),) for x in values(catalog, rules)], "value binary").repartition(3)
    got = sorted(tuple(r) for r in T.partial_counts_jvm(df, catalog, rules, [PACKED]).collect())
    want = reference_rows(df, schemas, catalog, rules)
    assert got == want
    # Not two empty answers: every kept reaction is there (6 + 1 singles, 4 + 2 packed).
    assert sum(r[3] for r in got) == 13
    assert {r[0] for r in got} == {"a", "b", "c"}


def test_each_partition_is_counted_on_its_own(spark, schemas, catalog, rules):
    """Rows are per partition (merged by the stateful step), so the same key may come from several:
    their sums are the reference's."""
    (fire,) = emojis(catalog, "fire")
    vs = [reaction("m", f"u{i}", fire, BIG + i, BIG + i) for i in range(100)]
    df = spark.createDataFrame([(bytearray(x),) for x in vs], "value binary").repartition(4)
    got = T.partial_counts_jvm(df, catalog, rules, [PACKED]).collect()
    assert len(got) == 4
    assert sum(r.n for r in got) == 100
    assert {(r.matchId, r.windowStartMs, r.idx) for r in got} == {("m", BIG, [e.emoji for e in catalog].index(fire))}


def test_a_reaction_schema_of_another_shape_is_refused(schemas):
    changed = json.loads(schemas.reaction_avsc)
    changed["fields"].insert(2, {"name": "region", "type": "string"})
    with pytest.raises(ValueError, match="PartialCounts reads"):
        T.check_reaction_schemas(json.dumps(changed), schemas.reaction_batch_avsc)
    T.check_reaction_schemas(schemas.reaction_avsc, schemas.reaction_batch_avsc)
