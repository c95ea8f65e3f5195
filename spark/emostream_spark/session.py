"""SparkSession construction shared by the job and the tests (jars come from install.sh)."""
from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path
from typing import Iterable, List, Mapping, Optional

from pyspark.sql import SparkSession

CONNECTOR_JARS = (
    "spark-sql-kafka-0-10_2.13", "spark-avro_2.13", "kafka-clients",
    "spark-token-provider-kafka-0-10_2.13", "commons-pool2",
)


CHECKPOINT_FILE_MANAGER_CONF = "spark.sql.streaming.checkpointFileManagerClass"
LOCAL_CHECKPOINT_FILE_MANAGER = "io.emostream.spark.LocalCheckpointFileManager"


# The driver JVM compiles with C1 only, on one compiler thread. A micro-batch runs Spark's
# planner, a large body of code, a few times a second, and C2 kept compiling it for over a minute
# after the start (JFR: 1.1-1.3 compiler-thread seconds per second for 50 s; bench:spark at 100k
# reactions/s on 2 cores) on the cores the batches wait for. 500 ms trigger, 100k/s: batches of
# 320-360 ms instead of 540-660 (mean), window end -> output p99 0.93-1.16 s in eight runs instead
# of 1.46 and 2.09 in two; the cold backlog batch is faster too. Later flags win: "-XX:TieredStopAtLevel=4
# -XX:CICompilerCount=2" in spark.driver.extraJavaOptions brings C2 back (C2 needs 2 threads).
DRIVER_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:CICompilerCount=1"
DRIVER_JAVA_OPTIONS_CONF = "spark.driver.extraJavaOptions"


def driver_java_options(extra: Optional[str] = None) -> str:
    """DRIVER_JAVA_OPTIONS, then extra (a user's spark.driver.extraJavaOptions), which wins on a clash."""
    return f"{DRIVER_JAVA_OPTIONS} {extra}" if extra and extra.strip() else DRIVER_JAVA_OPTIONS


def cache_dir() -> Path:
    return Path(os.environ.get("EMOSTREAM_CACHE") or Path.home() / ".cache" / "emostream")


JVM_JAR = "emostream-spark-jvm.jar"
JVM_SOURCES = Path(__file__).resolve().parent.parent / "jvm" / "src" / "main" / "java"


def jvm_jar(spark_version: str) -> Path:
    """Where install.sh builds the job's own JVM code for these sources and this Spark: the same
    hash as install.sh's (the Spark version, then every .java file in path order)."""
    h = hashlib.sha256(f"spark={spark_version}\n".encode())
    for f in sorted(JVM_SOURCES.rglob("*.java"), key=lambda p: "./" + p.relative_to(JVM_SOURCES).as_posix()):
        h.update(f.read_bytes())
    return cache_dir() / f"spark-jvm-{h.hexdigest()[:12]}" / JVM_JAR


def connector_jars(jars: Optional[str] = None) -> List[str]:
    """Comma-separated EMOSTREAM_SPARK_JARS (written by install.sh), else every jar in
    <cache>/spark-jars-<pyspark version> and the job's own (jvm_jar). Raises when one is missing:
    nothing is downloaded or built at run time (run spark/install.sh)."""
    import pyspark

    raw = jars if jars is not None else os.environ.get("EMOSTREAM_SPARK_JARS", "")
    paths = [p for p in (x.strip() for x in raw.split(",")) if p]
    if not paths:
        d = cache_dir() / f"spark-jars-{pyspark.__version__}"
        paths = sorted(glob.glob(str(d / "*.jar"))) + [str(jvm_jar(pyspark.__version__))]
    missing = [a for a in CONNECTOR_JARS if not any(Path(p).name.startswith(a + "-") for p in paths)]
    missing += [] if any(Path(p).name == JVM_JAR for p in paths) else [JVM_JAR]
    if missing:
        raise FileNotFoundError(
            f"Spark jars missing ({', '.join(missing)}); run spark/install.sh "
            f"(looked at EMOSTREAM_SPARK_JARS and {cache_dir()}/spark-jars-{pyspark.__version__})")
    for p in paths:
        if not Path(p).is_file():
            raise FileNotFoundError(f"jar not found: {p}")
    return paths


def build_session(app_name: str, master: Optional[str] = "local[2]", *, jars: Optional[Iterable[str]] = None,
                  shuffle_partitions: int = 4, driver_memory: str = "768m",
                  conf: Optional[Mapping[str, str]] = None) -> SparkSession:
    """A SparkSession with the connector jars on spark.jars.

    master=None leaves master (and, when jars is also None, the jars) to spark-submit's
    --master/--jars; driver memory and the driver JVM options (driver_java_options) only apply
    when this call starts the JVM."""
    b = SparkSession.builder.appName(app_name)
    settings = {}
    if master:
        b = b.master(master)
        settings["spark.driver.memory"] = driver_memory
        settings[DRIVER_JAVA_OPTIONS_CONF] = driver_java_options((conf or {}).get(DRIVER_JAVA_OPTIONS_CONF))
    if jars is not None or master:
        settings["spark.jars"] = ",".join(list(jars) if jars is not None else connector_jars())
    settings.update({
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # transformWithState (spark/jvm WindowCloser) needs the RocksDB state store. Changelog
        # checkpointing uploads each batch's changes rather than a snapshot of the whole store.
        "spark.sql.streaming.stateStore.providerClass":
            "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
        "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
        "spark.sql.streaming.minBatchesToRetain": "20",
        # The offset log, the commit log and the state changelog are written through java.nio on a
        # local checkpoint: Hadoop's local file system forks chmod and readlink for each file
        # without its native library, 18 forks a batch (spark/jvm LocalCheckpointFileManager).
        CHECKPOINT_FILE_MANAGER_CONF: LOCAL_CHECKPOINT_FILE_MANAGER,
        # AQE does not apply to stateful streaming anyway; off keeps batch tests' plans small.
        "spark.sql.adaptive.enabled": "false",
    })
    if master:
        # This call starts the JVM: loopback unless told otherwise, as run.sh does for spark-submit
        # (same variables); without it the driver's RPC and block manager listen on the first
        # non-loopback interface.
        local_ip = os.environ.get("SPARK_LOCAL_IP") or "127.0.0.1"
        settings["spark.driver.host"] = os.environ.get("SPARK_DRIVER_HOST") or local_ip
        settings["spark.driver.bindAddress"] = os.environ.get("SPARK_DRIVER_BIND_ADDRESS") or local_ip
    settings.update({k: v for k, v in (conf or {}).items() if not (master and k == DRIVER_JAVA_OPTIONS_CONF)})
    for k, v in settings.items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("EMOSTREAM_SPARK_LOG_LEVEL", "WARN"))
    return spark
