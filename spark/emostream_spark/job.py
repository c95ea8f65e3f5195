"""EmoStream Spark Structured Streaming job: reactions topic -> 2 s window aggregates topic.

    spark/run.sh [options]            (uses the cached venv and connector jars)
    python -m emostream_spark.job --help

Every option also reads an environment variable (shown in --help); command line wins.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from . import transform as T
from .config import REPO_ROOT, load_schemas, compact_schema
from .confluent import register_schema

log = logging.getLogger("emostream_spark.job")


def _env(name: str, default: Optional[str] = None) -> Optional[str]:
    v = os.environ.get(name)
    return v if v not in (None, "") else default


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="emostream-spark", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", default=_env("KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
                   help="Kafka bootstrap servers [env KAFKA_BOOTSTRAP] (default %(default)s)")
    p.add_argument("--reactions-topic", default=_env("REACTIONS_TOPIC", "emostream.reactions"),
                   help="[env REACTIONS_TOPIC] (default %(default)s)")
    p.add_argument("--aggregates-topic", default=_env("AGGREGATES_TOPIC", "emostream.aggregates"),
                   help="[env AGGREGATES_TOPIC] (default %(default)s)")
    p.add_argument("--registry-url", default=_env("SCHEMA_REGISTRY_URL"),
                   help="Confluent-compatible schema registry, e.g. http://127.0.0.1:18081/apis/ccompat/v7 "
                        "[env SCHEMA_REGISTRY_URL]; aggregate.avsc is registered under <aggregates-topic>-value. "
                        "Without it, --aggregates-schema-id is required")
    p.add_argument("--reactions-schema-id", type=int, default=_int_env("REACTIONS_SCHEMA_ID"),
                   help="accepted for symmetry; input is decoded with reaction.avsc whatever id its header "
                        "carries [env REACTIONS_SCHEMA_ID]")
    p.add_argument("--reaction-batch-schema-id", type=int, action="append",
                   help="schema id of ReactionBatch records (packed) when no registry is given; repeatable")
    p.add_argument("--aggregates-schema-id", type=int, default=_int_env("AGGREGATES_SCHEMA_ID"),
                   help="schema id written in the aggregates' Confluent header when no registry is given "
                        "[env AGGREGATES_SCHEMA_ID]")
    p.add_argument("--master", default=_env("SPARK_MASTER", "local[2]"),
                   help="Spark master URL; 'none' leaves it to spark-submit [env SPARK_MASTER] (default %(default)s)")
    p.add_argument("--checkpoint", default=_env("SPARK_CHECKPOINT"),
                   help="checkpoint dir [env SPARK_CHECKPOINT] (default <repo>/.cache/spark-checkpoints/<aggregates-topic>)")
    p.add_argument("--schemas-dir", default=_env("EMO_SCHEMAS_DIR", _env("EMOSTREAM_SCHEMAS_DIR", str(REPO_ROOT / "schemas"))),
                   help="dir with reaction.avsc, aggregate.avsc, emojis.json, aggregation.json "
                        "[env EMO_SCHEMAS_DIR] (default %(default)s)")
    p.add_argument("--starting-offsets", default=_env("STARTING_OFFSETS", "earliest"),
                   help="Kafka startingOffsets for a new checkpoint: earliest|latest|JSON [env STARTING_OFFSETS] "
                        "(default %(default)s)")
    p.add_argument("--trigger-seconds", type=float, default=float(_env("TRIGGER_SECONDS", "2")),
                   help="processingTime trigger interval [env TRIGGER_SECONDS] (default %(default)s)")
    p.add_argument("--shuffle-partitions", type=int, default=int(_env("SPARK_SHUFFLE_PARTITIONS", "4")),
                   help="spark.sql.shuffle.partitions = state store partitions; fixed once a checkpoint exists "
                        "[env SPARK_SHUFFLE_PARTITIONS] (default %(default)s)")
    p.add_argument("--driver-memory", default=_env("SPARK_DRIVER_MEMORY", "768m"),
                   help="[env SPARK_DRIVER_MEMORY] (default %(default)s)")
    p.add_argument("--max-offsets-per-trigger", type=int, default=_int_env("MAX_OFFSETS_PER_TRIGGER"),
                   help="cap on records per micro-batch [env MAX_OFFSETS_PER_TRIGGER] (default: none)")
    p.add_argument("--fail-on-data-loss", action=argparse.BooleanOptionalAction,
                   default=_env("FAIL_ON_DATA_LOSS", "false").lower() == "true",
                   help="Kafka failOnDataLoss (default false: a deleted/recreated topic does not stop the job)")
    p.add_argument("--jars", default=_env("EMOSTREAM_SPARK_JARS"),
                   help="comma-separated connector jars [env EMOSTREAM_SPARK_JARS, set by install.sh] "
                        "(default: the install.sh cache)")
    p.add_argument("--kafka-option", action="append", default=[], metavar="K=V",
                   help="extra option for both Kafka source and sink, e.g. kafka.security.protocol=SSL")
    p.add_argument("--conf", action="append", default=[], metavar="K=V", help="extra Spark conf")
    p.add_argument("--run-seconds", type=float, default=None,
                   help="stop after this many seconds (smoke runs); default: until SIGTERM/SIGINT")
    return p.parse_args(argv)


def _int_env(name: str) -> Optional[int]:
    v = _env(name)
    return int(v) if v is not None else None


def _kv(pairs: List[str]) -> dict:
    out = {}
    for item in pairs:
        k, sep, v = item.partition("=")
        if not sep:
            raise SystemExit(f"expected K=V, got {item!r}")
        out[k] = v
    return out


def resolve_aggregate_schema_id(args, schemas) -> int:
    if args.registry_url:
        subject = f"{args.aggregates_topic}-value"
        schema_id = register_schema(args.registry_url, subject, compact_schema(schemas.aggregate_avsc))
        log.info("aggregate.avsc registered under %s: id %d", subject, schema_id)
        if args.aggregates_schema_id is not None and args.aggregates_schema_id != schema_id:
            log.warning("--aggregates-schema-id %d ignored: the registry says %d", args.aggregates_schema_id, schema_id)
        return schema_id
    if args.aggregates_schema_id is None:
        raise SystemExit("either --registry-url or --aggregates-schema-id is required")
    return args.aggregates_schema_id


def resolve_packed_ids(args, schemas) -> List[int]:
    """Schema ids of ReactionBatch records (REACTIONS_FORMAT=packed) on the reactions topic: its
    subject is <topic>-io.emostream.v1.ReactionBatch; registering the same text the API registers
    returns the same id. Without a registry, --reaction-batch-schema-id (else single records only)."""
    ids = list(args.reaction_batch_schema_id or [])
    if args.registry_url:
        subject = f"{args.reactions_topic}-io.emostream.v1.ReactionBatch"
        schema_id = register_schema(args.registry_url, subject, compact_schema(schemas.reaction_batch_avsc))
        log.info("reaction-batch.avsc registered under %s: id %d", subject, schema_id)
        ids.append(schema_id)
    return sorted(set(ids))


def kafka_batch_writer(sink_options: dict):
    """The foreachBatch sink: each micro-batch's aggregates go to Kafka in ONE task, sorted by
    (windowStart, matchId) (transform.sink_order), so every match's windows land on the
    aggregates topic in windowStart order, which the publisher's per-match seq dedupe needs.

    Delivery stays at-least-once with byte-identical values: a micro-batch that runs again after
    a crash (same batch id, same offsets, same restored state) writes the same records again, in
    the same order. The Kafka producer is idempotent by default (kafka-clients >= 3.0: acks=all,
    enable.idempotence=true), so its retries do not reorder a partition either."""
    def write(batch_df, batch_id: int) -> None:
        T.sink_order(batch_df).write.format("kafka").options(**sink_options).save()
    return write


def _progress_listener():
    """Logs one line per micro-batch (the bench and tests read these), on the driver only."""
    from pyspark.sql.streaming import StreamingQueryListener

    class ProgressLog(StreamingQueryListener):
        def onQueryStarted(self, event):
            log.info("query started: id=%s runId=%s name=%s", event.id, event.runId, event.name)

        def onQueryProgress(self, event):
            p = event.progress
            ops = p.stateOperators or []
            d = p.durationMs or {}
            # Where a batch's time goes (getBatch, queryPlanning, addBatch = the sink's job, walCommit...):
            # the per-batch fixed cost, not the rows, dominates latency at a 2 s trigger.
            phases = ",".join(f"{k}:{v}" for k, v in sorted(d.items()) if k != "triggerExecution")
            log.info("progress batch=%d input=%d durationMs=%s watermark=%s timestamp=%s stateRows=%d "
                     "removed=%d droppedLate=%d phases=%s", p.batchId, p.numInputRows,
                     d.get("triggerExecution", -1), (p.eventTime or {}).get("watermark", "-"),
                     p.timestamp, sum(o.numRowsTotal for o in ops), sum(o.numRowsRemoved for o in ops),
                     sum(o.numRowsDroppedByWatermark for o in ops), phases or "-")

        def onQueryIdle(self, event):
            pass

        def onQueryTerminated(self, event):
            log.info("query terminated: id=%s exception=%s", event.id, event.exception)

    return ProgressLog()


def start_query(spark, args, schemas, schema_id: int, packed_ids: Sequence[int] = ()):
    """Builds and starts the streaming query; returns the StreamingQuery."""
    rules = schemas.aggregation
    extra = _kv(args.kafka_option)
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", args.bootstrap)
        .option("subscribe", args.reactions_topic)
        .option("startingOffsets", args.starting_offsets)
        .option("kafka.isolation.level", "read_committed")
        .option("failOnDataLoss", str(args.fail_on_data_loss).lower())
        .option("includeHeaders", "false")
    )
    if args.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(args.max_offsets_per_trigger))
    for k, v in extra.items():
        reader = reader.option(k, v)
    out = T.build_pipeline(reader.load(), schemas, schema_id, rules, order_columns=True, packed_ids=packed_ids)
    checkpoint = args.checkpoint or str(REPO_ROOT / ".cache" / "spark-checkpoints" / args.aggregates_topic)
    if "://" not in checkpoint:
        Path(checkpoint).mkdir(parents=True, exist_ok=True)
    sink_options = {"kafka.bootstrap.servers": args.bootstrap, "topic": args.aggregates_topic, **extra}
    writer = (
        out.writeStream.foreachBatch(kafka_batch_writer(sink_options))
        .queryName(f"emostream-aggregates-{args.aggregates_topic}")
        .option("checkpointLocation", checkpoint)
        .outputMode("append")
        .trigger(processingTime=f"{int(round(args.trigger_seconds * 1000))} milliseconds")
    )
    log.info("starting: %s -> %s (bootstrap %s, window %d ms, grace %d ms, scale %d, top %d, schema id %d, checkpoint %s)",
             args.reactions_topic, args.aggregates_topic, args.bootstrap, rules.window_ms, rules.grace_ms,
             rules.unit_scale, rules.top_n, schema_id, checkpoint)
    return writer.start()


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    schemas = load_schemas(args.schemas_dir)
    T.check_aggregate_schema(schemas.aggregate_avsc)
    schema_id = resolve_aggregate_schema_id(args, schemas)

    from .session import build_session, connector_jars
    master = None if args.master in ("none", "") else args.master
    # Under spark-submit (--master none) the jars come from spark-submit --jars unless --jars is given.
    jars = connector_jars(args.jars) if (master or args.jars) else None
    spark = build_session("emostream-aggregator", master, jars=jars,
                          shuffle_partitions=args.shuffle_partitions, driver_memory=args.driver_memory,
                          conf=_kv(args.conf))
    spark.streams.addListener(_progress_listener())
    query = start_query(spark, args, schemas, schema_id, resolve_packed_ids(args, schemas))

    def _stop(signum, _frame):
        log.info("signal %d: stopping the query", signum)
        query.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        if args.run_seconds is not None:
            query.awaitTermination(args.run_seconds)
            if query.isActive:
                query.stop()
        else:
            query.awaitTermination()
    finally:
        exc = query.exception()
        spark.stop()
    if exc is not None:
        log.error("query failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
