"""DataFrame transformations, the same on a batch DataFrame (tests) and a streaming one (the job).

Streaming (the job, see build_pipeline):
  kafka rows (value: binary), decoded, only catalog emojis, each one's window and emoji index,
  counted within the batch's partition  partial_counts_jvm -> matchId, windowStartMs, idx, n
    (spark/jvm PartialCounts; the same rows as decode_reactions, filter_catalog, window_rows and
    partial_counts, the SQL and Arrow reference the tests compare it with)
  -> per match, windows closed by a processing-time timer at end + grace
                                        close_windows      -> matchId, windowStartMs, late, c
  encoded (the same bytes as encode_from_counts) and written in order by the job's sink on the
  JVM (spark/jvm AggregateSink, AggregateEncoder).
Batch (tests, inspection): the same decode, then one aggregation and Catalyst encoding:
  tumbling window(windowMs) per matchId, one count column per emoji
                                        window_counts      -> matchId, windowStart, windowEnd, _c0.._cN
  -> key 'matchId|windowStartMs', value = 0x00 + id(4, BE) + Avro of aggregate.avsc
                                        encode_from_counts
  (aggregates_from_counts gives the same record as Spark columns)
"""
from __future__ import annotations

import json
from typing import List, Optional, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro, to_avro

from .config import AggregationConfig, CatalogEmoji, Schemas
from .avro_binary import encode_long, encode_string
from .confluent import HEADER_SIZE, header


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


def has_schema_id(value: Column, ids: Sequence[int]) -> Column:
    """Whether the Confluent header's id is one of ids: the 4 header bytes compared as binary."""
    if not ids:
        return F.lit(False)
    return F.substring(value, 2, 4).isin([bytearray(header(i)[1:]) for i in ids])


def decode_reactions(kafka_df: DataFrame, reaction_avsc: str, value_col: str = "value", *,
                     reaction_batch_avsc: Optional[str] = None, packed_ids: Sequence[int] = ()) -> DataFrame:
    """Kafka rows -> reactions (matchId, userId, emoji, ts: timestamp, receivedAt: timestamp).

    A record whose header carries one of packed_ids is a ReactionBatch (reaction-batch.avsc: one
    record per request and match) and gives one row per reaction it holds; any other record is
    read as one reaction.avsc. Only the branch a row takes is decoded (CASE WHEN is lazy), and
    the source is scanned once. Records that are not Confluent-framed (magic byte != 0 or shorter
    than 5 bytes) and records whose body does not decode (PERMISSIVE mode -> null) are dropped.
    """
    v = F.col(value_col)
    body = strip_confluent_header(value_col)
    framed = kafka_df.where(is_confluent_framed(v))
    single = from_avro(body, reaction_avsc, {"mode": "PERMISSIVE"})
    if not packed_ids:
        return (
            framed.select(single.alias("r"))
            .where(F.col("r").isNotNull() & F.col("r.matchId").isNotNull() & F.col("r.ts").isNotNull()
                   & F.col("r.receivedAt").isNotNull())
            .select("r.matchId", "r.userId", "r.emoji", "r.ts", "r.receivedAt")
        )
    if reaction_batch_avsc is None:
        raise ValueError("packed_ids given without reaction_batch_avsc")
    is_packed = has_schema_id(v, packed_ids)
    p, b, r, it = F.col("p"), F.col("b"), F.col("r"), F.col("it")
    # explode_outer of the batch's array, not transform(lambda) + explode: higher-order functions
    # are interpreted per element (no codegen); this took the decode from ~2.1 s to ~1.4 s per
    # million packed reactions on 2 cores. A single record has no array (b is null) and
    # explode_outer keeps it as one row with a null item, so either kind is one pass.
    return (
        framed
        .select(is_packed.alias("p"),
                F.when(is_packed, from_avro(body, reaction_batch_avsc, {"mode": "PERMISSIVE"})).alias("b"),
                F.when(~is_packed, single).alias("r"))
        .where(F.when(p, b.isNotNull() & b.getField("matchId").isNotNull() & b.getField("receivedAt").isNotNull())
               .otherwise(r.isNotNull() & r.getField("matchId").isNotNull() & r.getField("ts").isNotNull()
                          & r.getField("receivedAt").isNotNull()))
        .select(p, b.getField("matchId").alias("bMatchId"), b.getField("receivedAt").alias("bReceivedAt"), r,
                F.explode_outer(b.getField("reactions")).alias("it"))
        .select(F.when(p, F.col("bMatchId")).otherwise(r.getField("matchId")).alias("matchId"),
                F.when(p, it.getField("userId")).otherwise(r.getField("userId")).alias("userId"),
                F.when(p, it.getField("emoji")).otherwise(r.getField("emoji")).alias("emoji"),
                F.when(p, it.getField("ts")).otherwise(r.getField("ts")).alias("ts"),
                F.when(p, F.col("bReceivedAt")).otherwise(r.getField("receivedAt")).alias("receivedAt"))
        .where(F.col("ts").isNotNull())
    )


def filter_catalog(reactions: DataFrame, catalog: Sequence[CatalogEmoji]) -> DataFrame:
    """Only catalog emojis count. Applied BEFORE the watermark, like the TypeScript aggregator,
    which drops an unknown emoji before it touches stream time."""
    return reactions.where(F.col("emoji").isin([e.emoji for e in catalog]))


# ---- aggregation -----------------------------------------------------------------------------

def _count_col(i: int) -> str:
    return f"_c{i}"


def _counts(n: int) -> List[Column]:
    return [F.col(_count_col(i)) for i in range(n)]


def event_time(reactions: DataFrame, rules: AggregationConfig) -> DataFrame:
    """Adds eventTime, the time the server vouches for (schemas/aggregation.json, and
    eventTimeOf in the TypeScript aggregator): the client's ts while it lies at most
    tsToleranceMs behind receivedAt, else receivedAt. A client clock running ahead thus cannot
    move the (global) watermark past everyone else's reactions."""
    ts_ms = F.unix_millis(F.col("ts"))
    recv_ms = F.unix_millis(F.col("receivedAt"))
    trusted = (ts_ms <= recv_ms) & (ts_ms >= recv_ms - F.lit(rules.ts_tolerance_ms))
    return reactions.withColumn("eventTime", F.when(trusted, F.col("ts")).otherwise(F.col("receivedAt")))


def window_counts(reactions: DataFrame, catalog: Sequence[CatalogEmoji], rules: AggregationConfig,
                  *, watermark: bool = True) -> DataFrame:
    """The one stateful step. Reactions (matchId, emoji, ts, receivedAt: timestamps) -> one row per
    (matchId, window): matchId, windowStart, windowEnd (timestamps), _c0.._c{n-1} (count of
    catalog emoji i, 0 when absent).

    Windows are tumbling and epoch-aligned on eventTime (see event_time): windowStart =
    floor(eventTime / windowMs) * windowMs. With watermark=True (required for streaming append
    mode) the watermark is max(eventTime) - graceMs and a window is emitted once its end <= watermark; on a batch DataFrame
    Spark ignores the watermark and every window is emitted.
    """
    timed = event_time(reactions, rules)
    df = timed.withWatermark("eventTime", f"{rules.grace_ms} milliseconds") if watermark else timed
    emoji = F.col("emoji")
    aggs = [F.count(F.when(emoji == F.lit(e.emoji), F.lit(1))).alias(_count_col(i)) for i, e in enumerate(catalog)]
    return (
        df.groupBy(F.col("matchId"), F.window(F.col("eventTime"), f"{rules.window_ms} milliseconds").alias("w"))
        .agg(*aggs)
        .select(F.col("matchId"), F.col("w.start").alias("windowStart"), F.col("w.end").alias("windowEnd"),
                *_counts(len(catalog)))
    )


def total_expr(n: int) -> Column:
    c = _counts(n)
    total = c[0].cast("long")
    for x in c[1:]:
        total = total + x
    return total


def _top_entries(catalog: Sequence[CatalogEmoji], rules: AggregationConfig, payload) -> Column:
    """Array of the top-N catalog entries with count > 0, in rank order: count desc, then
    catalog index asc. Sorting structs (-count, index, payload) compares -count first and the
    (unique) index second, so the payload never takes part in the order. payload(i, e) gives
    the per-entry value carried along."""
    n = len(catalog)
    c = _counts(n)
    items = [F.struct((-c[i]).alias("negCount"), F.lit(i).alias("idx"), payload(i, e).alias("p"))
             for i, e in enumerate(catalog)]
    ranked = F.slice(F.array_sort(F.array(*items)), 1, min(rules.top_n, n))
    return F.filter(ranked, lambda x: x["negCount"] < 0)


def units_value_expr(i: int, rules: AggregationConfig) -> Column:
    """ceil(count / unitScale) in exact integer arithmetic: (count + scale - 1) div scale."""
    scale = rules.unit_scale
    return F.expr(f"({_count_col(i)} + {scale - 1}L) div {scale}L")


def sentiment_expr(catalog: Sequence[CatalogEmoji]) -> Column:
    """sum(count * valenceCenti) / (100 * total): ONE IEEE double division of two exact integers
    (both far below 2^53), so it equals JavaScript's `sentimentCenti / (100 * total)` bit for bit."""
    n = len(catalog)
    c = _counts(n)
    num = F.lit(0).cast("long")
    for i, e in enumerate(catalog):
        if e.valence_centi != 0:
            num = num + c[i] * F.lit(e.valence_centi).cast("long")
    den = total_expr(n) * F.lit(100).cast("long")
    return num.cast("double") / den.cast("double")


def counts_map_expr(catalog: Sequence[CatalogEmoji]) -> Column:
    """map emoji -> count for count > 0, entries in catalog order."""
    c = _counts(len(catalog))
    kv = []
    for i, e in enumerate(catalog):
        kv += [F.lit(e.emoji), c[i]]
    return F.map_filter(F.create_map(*kv), lambda k, v: v > 0)


def units_map_expr(catalog: Sequence[CatalogEmoji], rules: AggregationConfig) -> Column:
    """map emoji -> ceil(count / unitScale) for the top-N emojis with count > 0, entries in rank
    order (count desc, catalog index asc)."""
    top = _top_entries(catalog, rules, lambda i, e: F.struct(F.lit(e.emoji).alias("key"),
                                                              units_value_expr(i, rules).alias("value")))
    return F.map_from_entries(F.transform(top, lambda x: x["p"]))


def aggregates_from_counts(counts: DataFrame, catalog: Sequence[CatalogEmoji], rules: AggregationConfig) -> DataFrame:
    """window_counts rows -> the aggregate.avsc fields as Spark types (windowStart/windowEnd are
    timestamps). Map entry order: counts in catalog order, units in rank order (Spark keeps a
    map's insertion order; the Kafka encoder below writes the same order)."""
    n = len(catalog)
    return counts.select(
        F.col("matchId"), F.col("windowStart"), F.col("windowEnd"),
        counts_map_expr(catalog).alias("counts"),
        units_map_expr(catalog, rules).alias("units"),
        total_expr(n).alias("total"),
        sentiment_expr(catalog).alias("sentiment"),
    )


def aggregate_windows(reactions: DataFrame, catalog: Sequence[CatalogEmoji], rules: AggregationConfig,
                      *, watermark: bool = True) -> DataFrame:
    """Reactions -> aggregate.avsc rows (see window_counts and aggregates_from_counts)."""
    return aggregates_from_counts(window_counts(reactions, catalog, rules, watermark=watermark), catalog, rules)


# ---- output ----------------------------------------------------------------------------------
#
# The Avro value is composed field by field rather than with to_avro(struct, aggregate.avsc):
# Spark's Avro serializer copies a MapType into a java.util.HashMap, so the map entries come out
# in hash order, while avsc (TypeScript) writes a JS object's insertion order. Byte-for-byte
# equality with the TypeScript aggregator needs the entry order under our control. Primitives
# still go through to_avro (zigzag varints, little-endian doubles); map keys are constant
# literals encoded in Python; an Avro record is the concatenation of its fields.

EXPECTED_AGGREGATE_FIELDS = [
    ("matchId", "string"), ("windowStart", "long"), ("windowEnd", "long"),
    ("counts", "map<long>"), ("units", "map<long>"), ("total", "long"), ("sentiment", "double"),
]


def _avro_type_name(t) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, dict):
        if t.get("type") == "map":
            return f"map<{_avro_type_name(t.get('values'))}>"
        return _avro_type_name(t.get("type"))
    return json.dumps(t)


def check_aggregate_schema(aggregate_avsc: str) -> None:
    """The value encoder is written for aggregate.avsc's exact field list; fail loudly if the
    schema changes shape instead of writing bytes that no longer match it."""
    fields = [(f["name"], _avro_type_name(f["type"])) for f in json.loads(aggregate_avsc)["fields"]]
    if fields != EXPECTED_AGGREGATE_FIELDS:
        raise ValueError(f"aggregate.avsc fields {fields} differ from what the Spark encoder writes "
                         f"{EXPECTED_AGGREGATE_FIELDS}; update transform.encode_from_counts")


_EMPTY = bytearray()


# The coalesce()s never change a value (nulls are filtered out before the aggregation and total
# is > 0); they make the columns non-nullable so the Avro serializer accepts the non-union types
# without a warning per call.
def _avro_long(col: Column) -> Column:
    return to_avro(F.coalesce(col.cast("long"), F.lit(0).cast("long")), '"long"')


def _avro_string(col: Column) -> Column:
    return to_avro(F.coalesce(col, F.lit("")), '"string"')


def _avro_double(col: Column) -> Column:
    return to_avro(F.coalesce(col.cast("double"), F.lit(0.0)), '"double"')


def _map_bytes(count: Column, entries_in_order: Column) -> Column:
    """One Avro map block: count, entries, 0 - or just 0 for an empty map."""
    return F.when(count > 0, F.concat(_avro_long(count), entries_in_order, F.lit(bytearray(encode_long(0))))) \
        .otherwise(F.lit(bytearray(encode_long(0))))


def counts_map_bytes(catalog: Sequence[CatalogEmoji]) -> Column:
    n = len(catalog)
    c = _counts(n)
    present = F.lit(0)
    parts = []
    for i, e in enumerate(catalog):
        present = present + F.when(c[i] > 0, F.lit(1)).otherwise(F.lit(0))
        parts.append(F.when(c[i] > 0, F.concat(F.lit(bytearray(encode_string(e.emoji))), _avro_long(c[i])))
                     .otherwise(F.lit(_EMPTY)))
    return _map_bytes(present, F.concat(*parts))


def units_map_bytes(catalog: Sequence[CatalogEmoji], rules: AggregationConfig) -> Column:
    top = _top_entries(catalog, rules, lambda i, e: F.concat(F.lit(bytearray(encode_string(e.emoji))),
                                                              _avro_long(units_value_expr(i, rules))))
    joined = F.aggregate(top, F.lit(_EMPTY), lambda acc, x: F.concat(acc, x["p"]))
    return _map_bytes(F.size(top), joined)


def aggregate_avro_bytes(catalog: Sequence[CatalogEmoji], rules: AggregationConfig) -> Column:
    """Avro binary of aggregate.avsc from window_counts columns (no Confluent header)."""
    n = len(catalog)
    return F.concat(
        _avro_string(F.col("matchId")),
        _avro_long(F.unix_millis(F.col("windowStart"))),
        _avro_long(F.unix_millis(F.col("windowEnd"))),
        counts_map_bytes(catalog),
        units_map_bytes(catalog, rules),
        _avro_long(total_expr(n)),
        _avro_double(sentiment_expr(catalog)),
    )


def aggregate_key(match_id: Column, window_start: Column) -> Column:
    """'matchId|windowStart' with windowStart as decimal epoch ms (a string: UTF-8 on Kafka)."""
    return F.concat(match_id, F.lit("|"), F.unix_millis(window_start).cast("string"))


# Columns build_pipeline(order_columns=True) adds so a micro-batch can be written in order.
ORDER_COLUMNS = ("_windowStartMs", "_matchId")


def encode_from_counts(counts: DataFrame, catalog: Sequence[CatalogEmoji], rules: AggregationConfig,
                       schema_id: int, *, order_columns: bool = False) -> DataFrame:
    """window_counts rows -> Kafka rows: key (string), value = 0x00 + schema id (4 bytes, big
    endian) + Avro binary of aggregate.avsc. With order_columns=True also _windowStartMs (long)
    and _matchId, a sort key by (windowStart, matchId) (drop them before writing)."""
    value = F.concat(F.lit(bytearray(header(schema_id))), aggregate_avro_bytes(catalog, rules))
    cols = [aggregate_key(F.col("matchId"), F.col("windowStart")).alias("key"), value.alias("value")]
    if order_columns:
        cols += [F.unix_millis(F.col("windowStart")).alias(ORDER_COLUMNS[0]), F.col("matchId").alias(ORDER_COLUMNS[1])]
    return counts.select(*cols)


def decode_aggregates(kafka_df: DataFrame, aggregate_avsc: str, value_col: str = "value") -> DataFrame:
    """Decodes encode_from_counts' value with from_avro(aggregate.avsc) (for tests and tooling)."""
    body = strip_confluent_header(value_col)
    return kafka_df.where(is_confluent_framed(F.col(value_col))).select(
        from_avro(body, aggregate_avsc).alias("a")).select("a.*")


# ---- windows closed by processing time (the streaming job) -------------------------------------

PARTIAL_DDL = "matchId string, windowStartMs long, idx int, n long"


def window_rows(reactions: DataFrame, catalog: Sequence[CatalogEmoji], rules: AggregationConfig) -> DataFrame:
    """Catalog reactions -> matchId, windowStartMs (floor(eventTime / windowMs) * windowMs, as
    window() computes it), idx (the emoji's catalog index)."""
    ms = F.unix_millis(F.col("eventTime"))
    w = F.lit(rules.window_ms).cast("long")
    idx = (F.array_position(F.array(*[F.lit(e.emoji) for e in catalog]), F.col("emoji")) - 1).cast("int")
    return event_time(reactions, rules).select(
        F.col("matchId"), (ms - F.pmod(ms, w)).alias("windowStartMs"), idx.alias("idx"))


def _partial_counts_arrow(batches):
    """mapInArrow: one partition's (matchId, windowStartMs, idx) rows -> their counts, n. Runs
    before the shuffle, like a hash aggregation's partial step: the stateful step then sees a
    few rows per (match, window, emoji) instead of one per reaction."""
    import pyarrow as pa

    keys = ["matchId", "windowStartMs", "idx"]
    parts = []
    for b in batches:
        if b.num_rows:
            parts.append(pa.Table.from_batches([b]).group_by(keys).aggregate([("idx", "count")]))
    if not parts:
        return
    t = pa.concat_tables(parts).group_by(keys).aggregate([("idx_count", "sum")])
    out = pa.table({"matchId": t["matchId"], "windowStartMs": t["windowStartMs"],
                    "idx": t["idx"].cast(pa.int32()), "n": t["idx_count_sum"].cast(pa.int64())})
    yield from out.to_batches()


EXPECTED_REACTION_FIELDS = "{matchId:string,userId:string,emoji:string,ts:long,receivedAt:long}"
EXPECTED_REACTION_BATCH_FIELDS = "{matchId:string,receivedAt:long,reactions:array<{userId:string,emoji:string,ts:long}>}"


def _shape(t) -> str:
    """An Avro type as a short string of its layout (records by field names, logical types by
    their underlying type)."""
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return "union<" + ",".join(_shape(x) for x in t) + ">"
    kind = t.get("type")
    if kind == "record":
        return "{" + ",".join(f"{f['name']}:{_shape(f['type'])}" for f in t["fields"]) + "}"
    if kind == "array":
        return f"array<{_shape(t['items'])}>"
    if kind == "map":
        return f"map<{_shape(t['values'])}>"
    return _shape(kind)


def check_reaction_schemas(reaction_avsc: str, reaction_batch_avsc: Optional[str]) -> None:
    """PartialCounts (spark/jvm) reads both layouts field by field: fail loudly if a schema
    changes shape instead of counting garbage."""
    got = _shape(json.loads(reaction_avsc))
    if got != EXPECTED_REACTION_FIELDS:
        raise ValueError(f"reaction.avsc is {got}, PartialCounts reads {EXPECTED_REACTION_FIELDS}; update spark/jvm")
    if reaction_batch_avsc is not None:
        got = _shape(json.loads(reaction_batch_avsc))
        if got != EXPECTED_REACTION_BATCH_FIELDS:
            raise ValueError(f"reaction-batch.avsc is {got}, PartialCounts reads {EXPECTED_REACTION_BATCH_FIELDS}; update spark/jvm")


def _jvm_apply(df: DataFrame, cls: str, *args) -> DataFrame:
    """DataFrame -> io.emostream.spark.<cls>.apply(df, *args) (spark/jvm, built by install.sh).
    Needs classic PySpark (py4j), which the job runs."""
    from pyspark.sql.classic.dataframe import DataFrame as ClassicDataFrame

    spark = df.sparkSession
    jdf = getattr(spark.sparkContext._jvm.io.emostream.spark, cls).apply(df._jdf, *args)
    return ClassicDataFrame(jdf, spark)


def partial_counts_jvm(kafka_df: DataFrame, catalog: Sequence[CatalogEmoji], rules: AggregationConfig,
                       packed_ids: Sequence[int] = ()) -> DataFrame:
    """Kafka rows (value: binary) -> PARTIAL_DDL rows, decoded and counted per partition on the JVM
    (spark/jvm PartialCounts): the rows of decode_reactions, filter_catalog, window_rows and
    partial_counts, without a row per reaction, a Python worker or an Arrow copy."""
    return _jvm_apply(kafka_df, "PartialCounts", "\n".join(e.emoji for e in catalog), rules.window_ms,
                      rules.ts_tolerance_ms, ",".join(str(i) for i in packed_ids))


def partial_counts(rows: DataFrame) -> DataFrame:
    """window_rows -> PARTIAL_DDL rows, counted per partition in Arrow: the reference that
    partial_counts_jvm is tested against."""
    return rows.mapInArrow(_partial_counts_arrow, PARTIAL_DDL)


def close_windows(partials: DataFrame, catalog: Sequence[CatalogEmoji], rules: AggregationConfig) -> DataFrame:
    """The stateful step: per match, windows closed by a processing-time timer at end + grace, on
    the JVM (spark/jvm WindowCloser, transformWithState; the rules are in windows.py's docstring).
    Output: matchId, windowStartMs, late, c (counts in catalog order)."""
    return _jvm_apply(partials, "WindowCloser", rules.window_ms, rules.grace_ms, len(catalog))


def build_pipeline(kafka_df: DataFrame, schemas: Schemas, aggregate_schema_id: int,
                   rules: Optional[AggregationConfig] = None, *, order_columns: bool = False,
                   packed_ids: Sequence[int] = ()) -> DataFrame:
    """Kafka source rows (value: binary) -> windows.

    On a streaming DataFrame, windows are closed by processing time (close_windows): the rows are
    matchId, windowStartMs, late, c, a few per batch, and the job's sink encodes and writes them
    (spark/jvm AggregateSink, AggregateEncoder: the same bytes as encode_from_counts). On a batch
    DataFrame every window is complete: one aggregation (window_counts, no watermark) encoded by
    Catalyst into Kafka rows key, value (plus the order columns with order_columns=True)."""
    rules = rules or schemas.aggregation
    check_aggregate_schema(schemas.aggregate_avsc)
    if kafka_df.isStreaming:
        check_reaction_schemas(schemas.reaction_avsc, schemas.reaction_batch_avsc)
        return close_windows(partial_counts_jvm(kafka_df, schemas.catalog, rules, packed_ids), schemas.catalog, rules)
    reactions = filter_catalog(decode_reactions(kafka_df, schemas.reaction_avsc,
                                                reaction_batch_avsc=schemas.reaction_batch_avsc,
                                                packed_ids=packed_ids), schemas.catalog)
    counts = window_counts(reactions, schemas.catalog, rules, watermark=False)
    return encode_from_counts(counts, schemas.catalog, rules, aggregate_schema_id, order_columns=order_columns)
