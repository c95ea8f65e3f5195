"""Test helpers: build reaction DataFrames and a pure-Python reference of the aggregation rules
(written from the spec, independent of the Spark expressions)."""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, Iterable, List, Sequence, Tuple

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from emostream_spark.avro_binary import encode_reaction
from emostream_spark.confluent import frame

REACTION_DDL = "matchId string, userId string, emoji string, tsMs long"


def reactions_df(spark, rows: Iterable[Tuple[str, str, int]]) -> DataFrame:
    """rows: (matchId, emoji, ts_ms) -> DataFrame like decode_reactions' output."""
    data = [(m, f"u{i}", e, ts) for i, (m, e, ts) in enumerate(rows)]
    return (spark.createDataFrame(data, REACTION_DDL)
            .select("matchId", "userId", "emoji", F.timestamp_millis("tsMs").alias("ts"),
                    F.timestamp_millis("tsMs").alias("receivedAt")))


def kafka_values(rows: Iterable[Tuple[str, str, int]], schema_id: int = 1) -> List[bytes]:
    return [frame(schema_id, encode_reaction({"matchId": m, "userId": f"u{i}", "emoji": e, "ts": ts,
                                              "receivedAt": ts + 3}))
            for i, (m, e, ts) in enumerate(rows)]


def reference_aggregates(rows: Iterable[Tuple[str, str, int]], catalog, window_ms: int, unit_scale: int,
                         top_n: int) -> Dict[Tuple[str, int], dict]:
    """The spec in plain Python: epoch-aligned tumbling windows, catalog emojis only, counts in
    catalog order, units for the top-N (count desc, catalog index asc) in rank order,
    sentiment = sum(count * valenceCenti) / (100 * total)."""
    index = {e.emoji: i for i, e in enumerate(catalog)}
    acc: Dict[Tuple[str, int], List[int]] = defaultdict(lambda: [0] * len(catalog))
    for m, e, ts in rows:
        if e not in index:
            continue
        acc[(m, (ts // window_ms) * window_ms)][index[e]] += 1
    return {(m, start): reference_aggregate(m, start, c, catalog, window_ms, unit_scale, top_n)
            for (m, start), c in acc.items()}


def reference_aggregate(m: str, start: int, c: Sequence[int], catalog, window_ms: int, unit_scale: int,
                        top_n: int) -> dict:
    """One window's aggregate from its counts in catalog order (see reference_aggregates)."""
    present = [i for i in range(len(catalog)) if c[i] > 0]
    ranked = sorted(present, key=lambda i: (-c[i], i))[:top_n]
    total = sum(c)
    num = sum(c[i] * catalog[i].valence_centi for i in range(len(catalog)))
    return {
        "matchId": m, "windowStart": start, "windowEnd": start + window_ms,
        "counts": {catalog[i].emoji: c[i] for i in present},
        "units": {catalog[i].emoji: -(-c[i] // unit_scale) for i in ranked},
        "total": total,
        "sentiment": num / (100 * total),  # Python int/int: correctly rounded, like double/double
    }


def collect_aggregates(df: DataFrame) -> Dict[Tuple[str, int], dict]:
    """aggregate rows -> {(matchId, windowStartMs): record} with maps as ORDERED dicts (map_entries
    keeps Spark's entry order; a plain MapType -> dict conversion does not)."""
    rows = df.select(
        "matchId",
        F.unix_millis("windowStart").alias("windowStart"),
        F.unix_millis("windowEnd").alias("windowEnd"),
        F.map_entries("counts").alias("counts"),
        F.map_entries("units").alias("units"),
        "total", "sentiment",
    ).collect()
    out = {}
    for r in rows:
        rec = r.asDict()
        rec["counts"] = {kv["key"]: kv["value"] for kv in r["counts"]}
        rec["units"] = {kv["key"]: kv["value"] for kv in r["units"]}
        out[(r["matchId"], r["windowStart"])] = rec
    return out


def emojis(catalog, *names: str) -> Sequence[str]:
    by_name = {e.name: e.emoji for e in catalog}
    return [by_name[n] for n in names]
