#!/usr/bin/env bash
# Installs (idempotent, cached) and runs the Spark job's unit tests. Extra args go to pytest.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
eval "$("$HERE/install.sh")"
cd "$HERE"
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
export PYSPARK_PYTHON="$EMOSTREAM_SPARK_PYTHON" PYSPARK_DRIVER_PYTHON="$EMOSTREAM_SPARK_PYTHON"
# The test sessions listen on loopback only (session.py defaults the driver to SPARK_LOCAL_IP).
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
# The broker scripts/infra started (npm test runs the integration tier first) serves the Kafka e2e test.
if [[ -z "${EMOSTREAM_TEST_KAFKA_BOOTSTRAP:-}" && -f "$HERE/../.infra/env" ]]; then
  EMOSTREAM_TEST_KAFKA_BOOTSTRAP="$(sed -n 's/^export KAFKA_BROKERS=//p' "$HERE/../.infra/env" | tr -d "\"'")"
  export EMOSTREAM_TEST_KAFKA_BOOTSTRAP
fi
# Default target: tests/ (unless a path or node id is given).
target=tests
for a in "$@"; do case "$a" in -*) ;; *) target= ;; esac; done
exec "$EMOSTREAM_SPARK_PYTHON" -m pytest -q -p no:cacheprovider $target "$@"
