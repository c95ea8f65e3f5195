#!/usr/bin/env bash
# `npm run spark [-- job options]`: the Spark aggregator as a role, like `ROLE=aggregator npm start`
# for the TypeScript one. Installs what is missing (spark/install.sh, cached), takes the service
# addresses from .infra/env when scripts/infra/up.sh wrote it (variables already set win), and runs
# spark/run.sh. Master: SPARK_MASTER (default local[*]); checkpoint: SPARK_CHECKPOINT (default
# <repo>/.cache/spark-checkpoints/<aggregates topic>). Every option: npm run spark -- --help
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ENV_FILE=$ROOT/.infra/env
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
