#!/usr/bin/env bash
# `npm run spark [-- job options]`: the Spark aggregator as a role, like `ROLE=aggregator npm start`
# for the TypeScript one. Installs what is missing (spark/install.sh, cached), takes the service
# addresses from .infra/env when scripts/infra/up.sh wrote it (variables already set win), and runs
# spark/run.sh. Master: --master or SPARK_MASTER (default local[*]); on the cluster profile
# (`npm run infra:up -- --profile cluster`) `npm run spark -- --master spark://127.0.0.1:31077` takes
# .infra/cluster/env instead (its brokers, registry, and SPARK_CONF_DIR with the executors' sizes and
# the driver's loopback ports). Checkpoint: SPARK_CHECKPOINT (default
# <repo>/.cache/spark-checkpoints/<aggregates topic>, local disk). Every option: npm run spark -- --help
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
# Which profile's addresses: EMOSTREAM_INFRA_DIR's env file when set; else the cluster profile's
# when the job is sent to the master it started (--master spark://... = its SPARK_MASTER_URL);
# else the single-node profile's.
ENV_FILE=$ROOT/.infra/env
master_arg=""
prev=""
for a in "$@"; do
  [ "$prev" = --master ] && master_arg=$a
  case "$a" in --master=*) master_arg=${a#--master=} ;; esac
  prev=$a
done
if [ -n "${EMOSTREAM_INFRA_DIR:-}" ]; then
  ENV_FILE=$EMOSTREAM_INFRA_DIR/env
elif [ -f "$ROOT/.infra/cluster/env" ] && [ -n "${master_arg:-${SPARK_MASTER:-}}" ] &&
     grep -qxF "export SPARK_MASTER_URL=${master_arg:-${SPARK_MASTER:-}}" "$ROOT/.infra/cluster/env"; then
  ENV_FILE=$ROOT/.infra/cluster/env
fi
if [ -f "$ENV_FILE" ]; then
  while IFS= read -r line; do
    if [[ $line =~ ^export\ ([A-Z_][A-Z0-9_]*)=(.*)$ ]]; then
      name=${BASH_REMATCH[1]}
      value=${BASH_REMATCH[2]}
      value=${value#[\"\']}
      value=${value%[\"\']}
      [ -n "${!name:-}" ] || export "$name=$value"
    fi
  done <"$ENV_FILE"
  echo "[spark] service addresses from $ENV_FILE (KAFKA_BOOTSTRAP=${KAFKA_BOOTSTRAP:-}, SCHEMA_REGISTRY_URL=${SCHEMA_REGISTRY_URL:-})" >&2
fi
"$HERE/install.sh" >/dev/null
export SPARK_MASTER="${SPARK_MASTER:-local[*]}"
exec "$HERE/run.sh" "$@"
