"""Pure DataFrame transformations. Every function works the same on a batch DataFrame (tests)
and on a streaming one (the job): no actions, no Python UDFs, only Catalyst expressions.

Pipeline (see build_pipeline):
  kafka rows (value: binary)            decode_reactions   -> matchId, userId, emoji, ts
  -> only catalog emojis                filter_catalog
  -> watermark(ts, graceMs), tumbling window(windowMs) per matchId, one count column per emoji
                                        aggregate_windows  -> aggregate.avsc fields
  -> key 'matchId|windowStartMs', value = 0x00 + id(4, BE) + Avro
                                        encode_aggregates
"""
from __future__ import annotations

from typing import Optional, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro, to_avro

from .config import AggregationConfig, CatalogEmoji, Schemas
from .confluent import HEADER_SIZE, header

AGGREGATE_COLUMNS = ["matchId", "windowStart", "windowEnd", "counts", "units", "total", "sentiment"]


# ---- input -----------------------------------------------------------------------------------

def strip_confluent_header(value_col: str = "value") -> Column:
    """Avro body of a Confluent-framed binary column: SQL substring is 1-based, so bytes 6..end."""
    return F.expr(f"substring(`{value_col}`, {HEADER_SIZE + 1}, length(`{value_col}`) - {HEADER_SIZE})")


def is_confluent_framed(value: Column) -> Column:
    """Magic byte 0 and at least the 5-byte header."""
    return (F.length(value) >= HEADER_SIZE) & (F.substring(value, 1, 1) == F.lit(bytearray([0])))


def confluent_schema_id(value: Column) -> Column:
    """The 4-byte big-endian schema id (bytes 2..5) as a long; for diagnostics only."""
    return F.conv(F.hex(F.substring(value, 2, 4)), 16, 10).cast("long")


def decode_reactions(kafka_df: DataFrame, reaction_avsc: str, value_col: str = "value") -> DataFrame:
    """Kafka rows -> reactions (matchId, userId, emoji, ts: timestamp, receivedAt: timestamp).

    Records that are not Confluent-framed (magic byte != 0 or shorter than 5 bytes) and records
    whose body does not decode with reaction.avsc (PERMISSIVE mode -> null) are dropped.
    The schema id in the header is ignored: the writer schema is reaction.avsc.
    """
    v = F.col(value_col)
    body = strip_confluent_header(value_col)
    return (
        kafka_df
        .where(is_confluent_framed(v))
        .select(from_avro(body, reaction_avsc, {"mode": "PERMISSIVE"}).alias("r"))
        .where(F.col("r").isNotNull() & F.col("r.matchId").isNotNull() & F.col("r.ts").isNotNull())
        .select("r.matchId", "r.userId", "r.emoji", "r.ts", "r.receivedAt")
    )


def filter_catalog(reactions: DataFrame, catalog: Sequence[CatalogEmoji]) -> DataFrame:
    """Only catalog emojis count. Applied BEFORE the watermark, like the TypeScript aggregator,
    which drops an unknown emoji before it touches stream time."""
    return reactions.where(F.col("emoji").isin([e.emoji for e in catalog]))


# ---- aggregation -----------------------------------------------------------------------------

def _count_col(i: int) -> str:
    return f"_c{i}"


def aggregate_windows(reactions: DataFrame, catalog: Sequence[CatalogEmoji], rules: AggregationConfig,
                      *, watermark: bool = True) -> DataFrame:
    """Reactions (matchId, emoji, ts: timestamp) -> one row per (matchId, window) with the
    aggregate.avsc fields: matchId, windowStart, windowEnd (timestamps, ms precision), counts,
    units, total, sentiment.

    Windows are tumbling, epoch-aligned (windowStart = floor(ts / windowMs) * windowMs).
    With watermark=True (needed for streaming append mode) the event-time watermark is
    max(ts) - graceMs; on a batch DataFrame Spark ignores it.
    """
    df = reactions
    if watermark:
        df = df.withWatermark("ts", f"{rules.grace_ms} milliseconds")
    n = len(catalog)
    emoji = F.col("emoji")
    aggs = [F.count(F.when(emoji == F.lit(e.emoji), F.lit(1))).alias(_count_col(i)) for i, e in enumerate(catalog)]
    grouped = df.groupBy(F.col("matchId"), F.window(F.col("ts"), f"{rules.window_ms} milliseconds").alias("w")).agg(*aggs)
    return grouped.select(
        F.col("matchId"),
        F.col("w.start").alias("windowStart"),
        F.col("w.end").alias("windowEnd"),
        *[F.col(_count_col(i)) for i in range(n)],
    ).select(
        F.col("matchId"), F.col("windowStart"), F.col("windowEnd"),
        counts_expr(catalog).alias("counts"),
        units_expr(catalog, rules).alias("units"),
        total_expr(n).alias("total"),
        sentiment_expr(catalog).alias("sentiment"),
    )


def _counts(n: int):
    return [F.col(_count_col(i)) for i in range(n)]


def total_expr(n: int) -> Column:
    c = _counts(n)
    total = c[0]
    for x in c[1:]:
        total = total + x
    return total.cast("long")


def counts_expr(catalog: Sequence[CatalogEmoji]) -> Column:
    """map emoji -> count for count > 0, entries in catalog order (as the TS aggregator builds it)."""
    c = _counts(len(catalog))
    kv = []
    for i, e in enumerate(catalog):
        kv += [F.lit(e.emoji), c[i]]
    return F.map_filter(F.create_map(*kv), lambda k, v: v > 0)


def rank_expr(i: int, n: int) -> Column:
    """Position of emoji i when sorting by count desc, catalog index asc:
    #{j : c_j > c_i or (c_j == c_i and j < i)}."""
    c = _counts(n)
    terms = [F.when(c[j] >= c[i] if j < i else c[j] > c[i], F.lit(1)).otherwise(F.lit(0))
             for j in range(n) if j != i]
    r = F.lit(0)
    for t in terms:
        r = r + t
    return r


def units_expr(catalog: Sequence[CatalogEmoji], rules: AggregationConfig) -> Column:
    """map emoji -> ceil(count / unitScale) for the top-N emojis with count > 0, entries in rank
    order (count desc, catalog index asc), as the TS aggregator inserts them."""
    n = len(catalog)
    c = _counts(n)
    scale = rules.unit_scale
    entries = []
    for i, e in enumerate(catalog):
        rank = rank_expr(i, n)
        in_top = (c[i] > 0) & (rank < rules.top_n)
        # exact integer ceil: (c + scale - 1) div scale
        units = F.expr(f"({_count_col(i)} + {scale - 1}L) div {scale}L")
        entries.append(F.when(in_top, F.struct(rank.alias("rank"), F.lit(e.emoji).alias("key"), units.alias("value"))))
    arr = F.array_sort(F.filter(F.array(*entries), lambda x: x.isNotNull()))
    return F.map_from_entries(F.transform(arr, lambda x: F.struct(x["key"].alias("key"), x["value"].alias("value"))))


def sentiment_expr(catalog: Sequence[CatalogEmoji]) -> Column:
    """sum(count * valenceCenti) / (100 * total): ONE IEEE double division of two exact integers."""
    n = len(catalog)
    c = _counts(n)
    num = F.lit(0).cast("long")
    for i, e in enumerate(catalog):
        if e.valence_centi != 0:
            num = num + c[i] * F.lit(e.valence_centi).cast("long")
    den = total_expr(n) * F.lit(100).cast("long")
    return num.cast("double") / den.cast("double")


# ---- output ----------------------------------------------------------------------------------

def aggregate_key(match_id: Column, window_start: Column) -> Column:
    """'matchId|windowStart' with windowStart as decimal epoch ms (UTF-8 string)."""
    return F.concat(match_id, F.lit("|"), F.unix_millis(window_start).cast("string"))


def encode_aggregates(aggregates: DataFrame, aggregate_avsc: str, schema_id: int) -> DataFrame:
    """aggregate rows -> Kafka rows (key: string, value: binary in Confluent framing)."""
    record = F.struct(*[F.col(c) for c in AGGREGATE_COLUMNS])
    value = F.concat(F.lit(bytearray(header(schema_id))), to_avro(record, aggregate_avsc))
    return aggregates.select(
        aggregate_key(F.col("matchId"), F.col("windowStart")).alias("key"),
        value.alias("value"),
    )


def decode_aggregates(kafka_df: DataFrame, aggregate_avsc: str, value_col: str = "value") -> DataFrame:
    """Inverse of encode_aggregates' value (for tests and tooling)."""
    body = strip_confluent_header(value_col)
    return kafka_df.where(is_confluent_framed(F.col(value_col))).select(
        from_avro(body, aggregate_avsc).alias("a")).select("a.*")


def build_pipeline(kafka_df: DataFrame, schemas: Schemas, aggregate_schema_id: int,
                   rules: Optional[AggregationConfig] = None) -> DataFrame:
    """Kafka source rows (value: binary) -> Kafka sink rows (key, value). Batch or streaming."""
    rules = rules or schemas.aggregation
    reactions = filter_catalog(decode_reactions(kafka_df, schemas.reaction_avsc), schemas.catalog)
    aggregates = aggregate_windows(reactions, schemas.catalog, rules)
    return encode_aggregates(aggregates, schemas.aggregate_avsc, aggregate_schema_id)
