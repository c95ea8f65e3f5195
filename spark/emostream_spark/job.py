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
import time
from pathlib import Path
from typing import List, Mapping, Optional, Sequence

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
    p.add_argument("--trigger-ms", type=int, default=None,
                   help="processingTime trigger interval in ms: a window goes out at most one trigger after its "
                        "end + grace [env SPARK_TRIGGER_MS] (default 2000)")
    p.add_argument("--trigger-phase-ms", type=int, default=_int_env("SPARK_TRIGGER_PHASE_MS"),
                   help="run the batches this long after the multiples of the trigger interval (Spark alone runs "
                        "them at the multiples): a window closes graceMs after a multiple of windowMs, so the "
                        "default, graceMs mod the trigger, runs a batch as each window closes "
                        "[env SPARK_TRIGGER_PHASE_MS] (default graceMs mod trigger)")
    p.add_argument("--trigger-seconds", type=float, default=None,
                   help="the same in seconds (older spelling; --trigger-ms wins) [env TRIGGER_SECONDS]")
    p.add_argument("--shuffle-partitions", type=int, default=int(_env("SPARK_SHUFFLE_PARTITIONS", "1")),
                   help="spark.sql.shuffle.partitions = state store partitions; fixed once a checkpoint exists "
                        "[env SPARK_SHUFFLE_PARTITIONS] (default %(default)s)")
    p.add_argument("--source-tasks", type=int, default=_int_env("SPARK_SOURCE_TASKS"),
                   help="read a batch's Kafka partitions in this many tasks (coalesce; the decode and count run in "
                        "them): every task costs its scheduling in every batch, data or not [env SPARK_SOURCE_TASKS] "
                        "(default: the cores Spark has, spark.default.parallelism)")
    p.add_argument("--driver-memory", default=_env("SPARK_DRIVER_MEMORY", "768m"),
                   help="[env SPARK_DRIVER_MEMORY] (default %(default)s)")
    p.add_argument("--max-offsets-per-trigger", type=int, default=_int_env("MAX_OFFSETS_PER_TRIGGER"),
                   help="refused: a window's timer fires in the first batch after its end + grace, and that batch "
                        "must hold every offset available at its start [env MAX_OFFSETS_PER_TRIGGER]")
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
    p.add_argument("--warm-up", action=argparse.BooleanOptionalAction,
                   default=_env("SPARK_WARM_UP", "true").lower() == "true",
                   help="run the whole plan once on a few made-up records before the query starts, so the first "
                        "real batch does not pay for code generation and class loading [env SPARK_WARM_UP] "
                        "(default true)")
    a = p.parse_args(argv)
    # Command line first (--trigger-ms, then --trigger-seconds), then SPARK_TRIGGER_MS, TRIGGER_SECONDS.
    if a.trigger_ms is None:
        a.trigger_ms = int(round(a.trigger_seconds * 1000)) if a.trigger_seconds is not None else _trigger_ms_env()
    if a.trigger_ms <= 0:
        p.error("--trigger-ms must be > 0")
    if a.trigger_phase_ms is not None and not 0 <= a.trigger_phase_ms < a.trigger_ms:
        p.error("--trigger-phase-ms must be in [0, trigger)")
    if a.max_offsets_per_trigger:
        p.error("--max-offsets-per-trigger / MAX_OFFSETS_PER_TRIGGER is not supported: windows close by processing "
                "time, and the batch that closes one must read every offset available at its start")
    return a


def _trigger_ms_env() -> int:
    """SPARK_TRIGGER_MS, else TRIGGER_SECONDS (the older variable, in seconds), else 2000."""
    v = _env("SPARK_TRIGGER_MS")
    if v is not None:
        return int(v)
    sec = _env("TRIGGER_SECONDS")
    return int(round(float(sec) * 1000)) if sec is not None else 2000


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


def kafka_out(spark, bootstrap: str, topic: str, kafka_options: Mapping[str, str]):
    """The job's Kafka producer, in the driver's JVM (spark/jvm RecordSender; kafka-clients is on
    the driver's classpath with the connector jars): a batch's few aggregates go out in one flush,
    every send checked, so a failed write fails the batch and Spark runs it again after a restart.
    The kafka.-prefixed --kafka-options first, then acks=all and idempotence (retries never reorder
    the partition), which they cannot turn off."""
    jvm = spark.sparkContext._jvm
    props = jvm.java.util.Properties()
    props.put("bootstrap.servers", bootstrap)
    for k, v in kafka_options.items():
        if k.startswith("kafka."):
            props.put(k[len("kafka."):], v)
    for k, v in (("acks", "all"), ("enable.idempotence", "true"), ("linger.ms", "0")):
        props.put(k, v)
    return jvm.io.emostream.spark.RecordSender(props, topic)


# The offset look-up must end within the API's close margin (ACK_CLOSE_MARGIN_MS in
# src/domain, 100 ms) of the batch timestamp that fires the timers (see windows.py); warn when a
# batch's did not.
ACK_CLOSE_MARGIN_MS = 100
OFFSET_LOOKUP_WARN_MS = ACK_CLOSE_MARGIN_MS


def progress_log(spark):
    """Adds the job's progress line (spark/jvm ProgressLog: one line per micro-batch, which the
    bench and tests read, and the offset look-up warning) to the session's queries; returns it
    (start_phased tells it each query's sink)."""
    jvm = spark.sparkContext._jvm
    progress = jvm.io.emostream.spark.ProgressLog(log.isEnabledFor(logging.INFO), OFFSET_LOOKUP_WARN_MS,
                                                  ACK_CLOSE_MARGIN_MS)
    spark._jsparkSession.streams().addListener(progress)
    return progress


WARM_UP_RECORDS = 200
WARM_UP_PER_RECORD = 100
WARM_UP_TRIGGER_MS = 600_000


def warm_up(spark, schemas, schema_id: int, packed_ids: Sequence[int] = ()) -> None:
    """Runs the job's plan on made-up reactions (WARM_UP_RECORDS records) as a one-batch stream (into
    a throwaway checkpoint), so code generation, the job's JVM classes, the RocksDB library and the
    JIT's work on the decode loop happen before the query takes traffic."""
    import shutil
    import tempfile
    import time

    from . import avro_binary as A
    from .confluent import frame

    t0 = time.monotonic()
    now = int(time.time() * 1000)
    emojis = [c.emoji for c in schemas.catalog]
    # Enough reactions that the JIT compiles the decode and count loops (thousands of turns), in
    # the layout the topic carries: packed records when their schema ids are known.
    try:
        if packed_ids:
            values = [frame(packed_ids[0], A.encode_reaction_batch({
                "matchId": f"warm-up-{m}", "receivedAt": now,
                "reactions": [{"userId": f"u{i}", "emoji": emojis[i % len(emojis)], "ts": now} for i in range(WARM_UP_PER_RECORD)]}))
                for m in range(WARM_UP_RECORDS)]
        else:
            values = [frame(1, A.encode_reaction({"matchId": f"warm-up-{m % 10}", "userId": f"u{m}",
                                                  "emoji": emojis[m % len(emojis)], "ts": now, "receivedAt": now}))
                      for m in range(WARM_UP_RECORDS * 10)]
    except Exception as exc:  # noqa: BLE001 - warm-up is best effort
        log.warning("warm-up skipped: %s", exc)
        return
    tmp = tempfile.mkdtemp(prefix="emostream-warmup-")
    try:
        src = Path(tmp) / "in"
        src.mkdir()
        import base64
        import json
        (src / "0.json").write_text("".join(json.dumps({"value": base64.b64encode(v).decode("ascii")}) + "\n"
                                            for v in values))
        from pyspark.sql import functions as F
        stream = (spark.readStream.schema("value string").json(str(src))
                  .select(F.unbase64("value").alias("value")))
        out = T.build_pipeline(stream, schemas, schema_id, packed_ids=packed_ids)
        # Started the job's way, into the job's sink, whose records stay in memory.
        capture = spark.sparkContext._jvm.io.emostream.spark.RecordCapture(1)
        # A processing-time stateful query never runs out of batches (availableNow would not end),
        # and stopping one mid-batch logs errors: its first batch runs at once and reads the
        # records, the next is due WARM_UP_TRIGGER_MS / 2 later, and it is stopped in between.
        phase = (now + WARM_UP_TRIGGER_MS // 2) % WARM_UP_TRIGGER_MS
        q, _ = start_phased(out, aggregate_encoder(spark, schemas.catalog, schemas.aggregation, schema_id), capture,
                            "emostream-warm-up", str(Path(tmp) / "ckpt"), WARM_UP_TRIGGER_MS, phase)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and q.isActive and not any(
                p.numInputRows > 0 for p in q.recentProgress):
            time.sleep(0.1)
        q.stop()
        capture.close()
        log.info("warm-up done in %d ms", (time.monotonic() - t0) * 1000)
    except Exception as exc:  # noqa: BLE001
        log.warning("warm-up failed (the query starts anyway): %s", exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def aggregate_encoder(spark, catalog, rules, schema_id: int):
    """The sink's window encoder (spark/jvm AggregateEncoder) for this catalog and these rules."""
    return spark.sparkContext._jvm.io.emostream.spark.AggregateEncoder(
        [e.emoji for e in catalog], [e.valence_centi for e in catalog], rules.window_ms, rules.unit_scale,
        rules.top_n, schema_id)


def start_phased(df, encoder, out, name: Optional[str], checkpoint: str, trigger_ms: int, phase_ms: int,
                 progress=None):
    """close_windows' rows (df) encoded and written into out (a spark/jvm RecordOut) by an
    AggregateSink in append mode, processing-time batches at phase_ms past the multiples of
    trigger_ms (spark/jvm PhasedStart: Spark's own trigger runs them at the multiples). Query and
    sink are on the JVM: no Python runs in a batch. Returns (StreamingQuery, the AggregateSink)."""
    from pyspark.sql.streaming.query import StreamingQuery

    jvm = df.sparkSession.sparkContext._jvm
    sink = jvm.io.emostream.spark.AggregateSink(encoder, out)
    if progress is not None:
        progress.watch(sink)
    query = StreamingQuery(jvm.io.emostream.spark.PhasedStart.start(df._jdf, sink, name, checkpoint, trigger_ms, phase_ms))
    return query, sink


FETCH_MAX_WAIT_MS = 10


def start_query(spark, args, schemas, schema_id: int, packed_ids: Sequence[int] = (), progress=None):
    """Builds and starts the streaming query; returns the StreamingQuery (its Kafka producer is
    closed by main after the query ends)."""
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
        # A task reads a bounded offset range, all of it in the log already, yet its consumer sat
        # out the default 500 ms fetch wait at the end of each partition: 12k records of 6
        # partitions took 2.1 s to count, 0.6 s with 10 ms (bench:spark, 7 Dec).
        .option("kafka.fetch.max.wait.ms", str(FETCH_MAX_WAIT_MS))
    )
    for k, v in extra.items():
        reader = reader.option(k, v)
    # Only the value is read (key, topic, partition, offset, timestamp are pruned from the plan).
    kafka_df = reader.load().select("value")
    tasks = args.source_tasks or spark.sparkContext.defaultParallelism
    kafka_df = kafka_df.coalesce(tasks)
    windows = T.build_pipeline(kafka_df, schemas, schema_id, rules, packed_ids=packed_ids)
    checkpoint = args.checkpoint or str(REPO_ROOT / ".cache" / "spark-checkpoints" / args.aggregates_topic)
    if "://" not in checkpoint:
        Path(checkpoint).mkdir(parents=True, exist_ok=True)
    out = kafka_out(spark, args.bootstrap, args.aggregates_topic, extra)
    phase_ms = args.trigger_phase_ms if args.trigger_phase_ms is not None else rules.grace_ms % args.trigger_ms
    log.info("starting: %s -> %s (bootstrap %s, %d source tasks, window %d ms, grace %d ms, trigger %d ms + %d ms, scale %d, "
             "top %d, schema id %d, checkpoint %s)", args.reactions_topic, args.aggregates_topic, args.bootstrap, tasks,
             rules.window_ms, rules.grace_ms, args.trigger_ms, phase_ms, rules.unit_scale, rules.top_n, schema_id,
             checkpoint)
    query, _ = start_phased(windows, aggregate_encoder(spark, schemas.catalog, rules, schema_id), out,
                            f"emostream-aggregates-{args.aggregates_topic}", checkpoint, args.trigger_ms, phase_ms,
                            progress)
    query._emostream_out = out  # type: ignore[attr-defined]
    return query


# How often the main thread looks for a stop signal or the end of --run-seconds.
STOP_POLL_S = 0.5


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
    packed_ids = resolve_packed_ids(args, schemas)
    if args.warm_up:
        warm_up(spark, schemas, schema_id, packed_ids)
    query = start_query(spark, args, schemas, schema_id, packed_ids, progress_log(spark))

    # The handler only takes note: the main thread is inside a py4j call (awaitTermination) when a
    # signal comes, and a py4j call from the handler would reuse that connection ("reentrant
    # call"), as would logging while the main thread holds the logging lock.
    signalled: List[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: signalled.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _frame: signalled.append(signum))
    until = None if args.run_seconds is None else time.monotonic() + args.run_seconds
    try:
        while not signalled and (until is None or time.monotonic() < until):
            if query.awaitTermination(STOP_POLL_S):
                break
        if signalled:
            log.info("signal %d: stopping the query", signalled[0])
        if query.isActive:
            query.stop()
    finally:
        exc = query.exception()
        try:
            query._emostream_out.close()
        except Exception as close_exc:  # noqa: BLE001 - the JVM may already be gone
            log.warning("closing the Kafka producer failed: %s", close_exc)
        spark.stop()
    if exc is not None:
        log.error("query failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
