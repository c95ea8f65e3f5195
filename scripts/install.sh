#!/usr/bin/env bash
# Installs everything the project needs, idempotently: system packages (apt), npm dependencies and
# the build. Kafka, the registry, Redis and Spark are fetched and cached by scripts/infra and spark/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f scripts/infra/apt-deps.sh ]; then bash scripts/infra/apt-deps.sh; fi
node scripts/ensure-install.mjs --kafka
