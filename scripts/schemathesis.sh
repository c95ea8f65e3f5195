#!/usr/bin/env bash
# Runs schemathesis (`st`, from PyPI) out of a venv cached under .infra/, installing it on first use.
# A failed install fails the caller: the integration tier runs it and must not skip it.
#   bash scripts/schemathesis.sh run http://127.0.0.1:8080/openapi.json --checks all
set -euo pipefail
version=4.32.5
. "$(dirname "${BASH_SOURCE[0]}")/py-tool.sh"
venv=$(py_tool_venv "schemathesis-$version" "schemathesis==$version")
exec "$venv/bin/st" "$@"
