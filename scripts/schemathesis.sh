#!/usr/bin/env bash
# Runs schemathesis (`st`, from PyPI) out of a venv cached under .infra/, installing it on first use.
# A failed install fails the caller: the integration tier runs it and must not skip it.
#   bash scripts/schemathesis.sh run http://127.0.0.1:8080/openapi.json --checks all
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=4.32.5
venv="$root/.infra/tools/schemathesis-$version"
if [ ! -x "$venv/bin/st" ]; then
  # Built beside its final place and moved there whole: a run interrupted mid-install leaves no
  # half venv that the next run would take for a finished one.
  tmp="$venv.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$tmp" >&2
  "$tmp/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" >&2
  rm -rf "$venv"
  mv "$tmp" "$venv"
  # A venv's scripts name their interpreter by its absolute path: point them at the final place.
  sed -i "1s|$tmp|$venv|" "$venv"/bin/st "$venv"/bin/schemathesis "$venv"/bin/pip* 2>/dev/null || true
  sed -i "s|$tmp|$venv|g" "$venv/bin/activate" "$venv/pyvenv.cfg" 2>/dev/null || true
fi
exec "$venv/bin/st" "$@"
