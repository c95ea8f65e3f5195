#!/usr/bin/env bash
# Installs what the EmoStream Spark job needs, cached outside the work tree so fresh clones
# reuse it. Idempotent; a second run is a fast no-op (no network).
#
#   venv : ${EMOSTREAM_CACHE:-$HOME/.cache/emostream}/spark-venv-<hash(requirements.txt, python)>
#   jars : ${EMOSTREAM_CACHE:-$HOME/.cache/emostream}/spark-jars-<pyspark version>
#          spark-sql-kafka-0-10_2.13, spark-avro_2.13 and their runtime deps (kafka-clients,
#          spark-token-provider-kafka-0-10, commons-pool2, ...) minus what pyspark already ships.
#
# stdout: shell lines to eval, e.g.  eval "$(spark/install.sh)"
#   EMOSTREAM_SPARK_PYTHON=<venv python>  EMOSTREAM_SPARK_JARS=<comma-separated jar paths>
# The same lines are written to ${EMOSTREAM_CACHE}/spark-env-<hash>.sh (path printed on stderr).
# Logs go to stderr. Env: EMOSTREAM_CACHE, EMOSTREAM_PYTHON (interpreter for the venv, python3).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${EMOSTREAM_CACHE:-$HOME/.cache/emostream}
PY=${EMOSTREAM_PYTHON:-python3}
REQ=$HERE/requirements.txt
POM=$HERE/pom.xml

log() { echo "[spark/install] $*" >&2; }

SPARK_VERSION=$(sed -n 's/^pyspark==\([0-9][0-9.]*\).*/\1/p' "$REQ")
[ -n "$SPARK_VERSION" ] || { log "no 'pyspark==X' pin in $REQ"; exit 1; }
PYVER=$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
HASH=$( { cat "$REQ"; echo "python=$PYVER"; } | sha256sum | cut -c1-12)
POM_HASH=$(sha256sum "$POM" | cut -c1-12)
VENV=$CACHE/spark-venv-$HASH
JARS_DIR=$CACHE/spark-jars-$SPARK_VERSION
ENV_FILE=$CACHE/spark-env-$HASH.sh
OK=.emostream-ok

mkdir -p "$CACHE"
# One installer at a time (test.sh and run.sh may start together).
exec 9>"$CACHE/.spark-install.lock"
flock 9

# ---- venv -------------------------------------------------------------------------------------
if [ ! -f "$VENV/$OK" ]; then
  log "creating venv $VENV (python $PYVER, pyspark $SPARK_VERSION)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$REQ" >&2
  "$VENV/bin/python" -c 'import pyspark, pytest, pandas, pyarrow, google.protobuf; print(pyspark.__version__)' >&2
  date -u +%FT%TZ >"$VENV/$OK"
else
  log "venv ok: $VENV"
fi

PYSPARK_JARS=$("$VENV/bin/python" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
[ -d "$PYSPARK_JARS" ] || { log "pyspark jars dir missing: $PYSPARK_JARS"; exit 1; }

# ---- connector jars ---------------------------------------------------------------------------
if [ ! -f "$JARS_DIR/$OK" ] || [ "$(cat "$JARS_DIR/$OK")" != "$POM_HASH" ]; then
  command -v mvn >/dev/null || { log "mvn not found (apt-get install maven)"; exit 1; }
  log "fetching spark-sql-kafka/spark-avro $SPARK_VERSION with Maven into $JARS_DIR"
  TMP=$(mktemp -d "$CACHE/.spark-jars-XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
  mvn -q -B -Dstyle.color=never -f "$POM" -Dspark.version="$SPARK_VERSION" dependency:list \
      -DincludeScope=runtime -DoutputFile="$TMP/deps.txt" -DoutputAbsoluteArtifactFilename=false >&2
  # Lines look like "   group:artifact:jar:version:scope[ -- module ...]".
  KEEP=()
  while read -r gav; do
    a=$(echo "$gav" | cut -d: -f2)
    if compgen -G "$PYSPARK_JARS/$a-[0-9]*.jar" >/dev/null; then
      log "  skip $gav (pyspark ships $(basename "$(compgen -G "$PYSPARK_JARS/$a-[0-9]*.jar" | head -1)"))"
    else
      KEEP+=("$a")
    fi
  done < <(grep -E '^\s+[^: ]+:[^: ]+:jar:' "$TMP/deps.txt" | awk '{print $1}')
  [ ${#KEEP[@]} -gt 0 ] || { log "nothing to copy?"; exit 1; }
  INCLUDE=$(IFS=,; echo "${KEEP[*]}")
  mvn -q -B -Dstyle.color=never -f "$POM" -Dspark.version="$SPARK_VERSION" dependency:copy-dependencies \
      -DincludeScope=runtime -DincludeArtifactIds="$INCLUDE" -DoutputDirectory="$TMP/jars" >&2
  for req in spark-sql-kafka-0-10_2.13 spark-avro_2.13 kafka-clients spark-token-provider-kafka-0-10_2.13 commons-pool2; do
    compgen -G "$TMP/jars/$req-[0-9]*.jar" >/dev/null || { log "missing $req in $TMP/jars"; exit 1; }
  done
  rm -rf "$JARS_DIR"
  mv "$TMP/jars" "$JARS_DIR"
  echo "$POM_HASH" >"$JARS_DIR/$OK"
  rm -rf "$TMP"
  trap - EXIT
  log "jars: $(cd "$JARS_DIR" && ls *.jar | tr '\n' ' ')"
else
  log "jars ok: $JARS_DIR"
fi

JARS=$(ls "$JARS_DIR"/*.jar | sort | paste -sd, -)
{
  echo "export EMOSTREAM_SPARK_PYTHON='$VENV/bin/python'"
  echo "export EMOSTREAM_SPARK_JARS='$JARS'"
  echo "export EMOSTREAM_SPARK_VERSION='$SPARK_VERSION'"
} >"$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
log "env file: $ENV_FILE"
cat "$ENV_FILE"
