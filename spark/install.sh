#!/usr/bin/env bash
# Installs what the EmoStream Spark job needs, cached outside the work tree so fresh clones
# reuse it. Idempotent; a second run is a fast no-op (no network).
#
#   venv : ${EMOSTREAM_CACHE:-$HOME/.cache/emostream}/spark-venv-<hash(requirements.txt, python)>
#   jars : ${EMOSTREAM_CACHE:-$HOME/.cache/emostream}/spark-jars-<pyspark version>
#          spark-sql-kafka-0-10_2.13, spark-avro_2.13 and their runtime deps (kafka-clients,
#          spark-token-provider-kafka-0-10, commons-pool2, ...) minus what pyspark already ships.
#   jvm  : ${EMOSTREAM_CACHE:-$HOME/.cache/emostream}/spark-jvm-<hash(spark/jvm sources, spark version)>
#          emostream-spark-jvm.jar, the job's own JVM code, compiled with javac against pyspark's jars.
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

# ---- the job's own JVM code (spark/jvm), against pyspark's jars and the connectors (kafka-clients) --
# Compiled against the jars of the pyspark installed above, so it always matches the Spark that
# runs it; no Maven and no network (every class it needs is in pyspark/jars or the connector jars
# above). Cached by a hash of the sources and the Spark version (session.jvm_jar computes the same).
JVM_SRC=$HERE/jvm/src/main/java
JVM_HASH=$( { echo "spark=$SPARK_VERSION"; (cd "$JVM_SRC" && find . -name '*.java' | LC_ALL=C sort | xargs cat); } | sha256sum | cut -c1-12)
JVM_DIR=$CACHE/spark-jvm-$JVM_HASH
JVM_JAR=$JVM_DIR/emostream-spark-jvm.jar
if [ ! -f "$JVM_DIR/$OK" ]; then
  command -v javac >/dev/null && command -v jar >/dev/null || { log "javac/jar not found (a JDK 17 is needed)"; exit 1; }
  log "building $JVM_JAR"
  TMP=$(mktemp -d "$CACHE/.spark-jvm-XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
  find "$JVM_SRC" -name '*.java' | LC_ALL=C sort >"$TMP/sources"
  javac --release 17 -Xlint:-options -cp "$PYSPARK_JARS/*:$JARS_DIR/*" -d "$TMP/classes" @"$TMP/sources" >&2
  jar --create --file "$TMP/emostream-spark-jvm.jar" -C "$TMP/classes" .
  rm -rf "$JVM_DIR"
  mkdir -p "$JVM_DIR"
  mv "$TMP/emostream-spark-jvm.jar" "$JVM_JAR"
  date -u +%FT%TZ >"$JVM_DIR/$OK"
  rm -rf "$TMP"
  trap - EXIT
else
  log "jvm jar ok: $JVM_JAR"
fi

JARS=$( { ls "$JARS_DIR"/*.jar; echo "$JVM_JAR"; } | sort | paste -sd, -)
{
  echo "export EMOSTREAM_SPARK_PYTHON='$VENV/bin/python'"
  echo "export EMOSTREAM_SPARK_JARS='$JARS'"
  echo "export EMOSTREAM_SPARK_VERSION='$SPARK_VERSION'"
} >"$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
log "env file: $ENV_FILE"
cat "$ENV_FILE"
