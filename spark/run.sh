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
  SUBMIT=$(dirname "$EMOSTREAM_SPARK_PYTHON")/spark-submit
  # The job's --master defaults to local[2]; pass "--master none" to let spark-submit decide.
  exec "$SUBMIT" --jars "$EMOSTREAM_SPARK_JARS" --driver-memory "${SPARK_DRIVER_MEMORY:-768m}" \
    "$HERE/emostream_spark/job.py" "$@"
fi
exec "$EMOSTREAM_SPARK_PYTHON" -m emostream_spark.job "$@"
