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
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$EMOSTREAM_SPARK_PYTHON}"
export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$EMOSTREAM_SPARK_PYTHON}"
if [ "${SPARK_SUBMIT:-0}" = 1 ]; then
  # spark-submit decides master/jars/memory: SPARK_MASTER (default local[2]) and SPARK_SUBMIT_OPTS_EXTRA
  # (extra spark-submit options, word-split). The job gets "--master none" so it keeps them.
  SUBMIT=$(dirname "$EMOSTREAM_SPARK_PYTHON")/spark-submit
  # shellcheck disable=SC2086
  exec "$SUBMIT" --master "${SPARK_MASTER:-local[2]}" --jars "$EMOSTREAM_SPARK_JARS" \
    --driver-memory "${SPARK_DRIVER_MEMORY:-768m}" ${SPARK_SUBMIT_OPTS_EXTRA:-} \
    "$HERE/main.py" --master none "$@"
fi
exec "$EMOSTREAM_SPARK_PYTHON" -m emostream_spark.job "$@"
