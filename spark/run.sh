#!/usr/bin/env bash
# Runs the EmoStream Spark job with the cached venv and connector jars (installs them first;
# a no-op when cached). All arguments go to the job: spark/run.sh --help
#
# Default: the Python driver starts Spark itself (--master local[2]). With SPARK_SUBMIT=1 it goes
# through pyspark's spark-submit instead (jars via --jars, master via --master if given).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
eval "$("$HERE/install.sh")"
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
# Loopback unless told otherwise: without SPARK_LOCAL_IP Spark picks the first non-loopback
# interface ("resolves to a loopback address ... using <eth0> instead") for the driver, the block
# manager and the executors. On a real cluster set SPARK_LOCAL_IP (and SPARK_DRIVER_HOST, the
# address executors reach the driver at) to this machine's cluster-facing address.
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
BIND=(--conf "spark.driver.host=${SPARK_DRIVER_HOST:-$SPARK_LOCAL_IP}" --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:-$SPARK_LOCAL_IP}")
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$EMOSTREAM_SPARK_PYTHON}"
export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$EMOSTREAM_SPARK_PYTHON}"
if [ "${SPARK_SUBMIT:-0}" = 1 ]; then
  # spark-submit decides master/jars/memory: SPARK_MASTER (default local[2]) and SPARK_SUBMIT_OPTS_EXTRA
  # (extra spark-submit options, word-split). The job gets "--master none" so it keeps them.
  SUBMIT=$(dirname "$EMOSTREAM_SPARK_PYTHON")/spark-submit
  # The driver's JVM options the job would set itself (session.DRIVER_JAVA_OPTIONS): spark-submit
  # starts that JVM here. A --driver-java-options in SPARK_SUBMIT_OPTS_EXTRA replaces them.
  DRIVER_OPTS=$("$EMOSTREAM_SPARK_PYTHON" -c 'from emostream_spark.session import DRIVER_JAVA_OPTIONS as o; print(o)')
  # shellcheck disable=SC2086
  exec "$SUBMIT" --master "${SPARK_MASTER:-local[2]}" --jars "$EMOSTREAM_SPARK_JARS" \
    --driver-memory "${SPARK_DRIVER_MEMORY:-768m}" --driver-java-options "$DRIVER_OPTS" ${SPARK_SUBMIT_OPTS_EXTRA:-} \
    "$HERE/main.py" --master none "${BIND[@]}" "$@"
fi
exec "$EMOSTREAM_SPARK_PYTHON" -m emostream_spark.job "${BIND[@]}" "$@"
