#!/usr/bin/env bash
# Sourced by the scripts that run a tool from PyPI: py_tool_venv NAME PIP-SPEC... installs the
# specs into a venv cached at .infra/tools/NAME on first use and prints its path. The venv is
# built beside its final place and moved there whole, so an interrupted install leaves no half
# venv that the next run would take for a finished one. A failed install fails the caller.
py_tool_venv() {
  local name=$1; shift
  local root venv tmp
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  venv="$root/.infra/tools/$name"
  if [ ! -f "$venv/.installed" ]; then
    tmp="$venv.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$tmp" >&2
    "$tmp/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
    rm -rf "$venv"
    mv "$tmp" "$venv"
    # A venv's scripts name their interpreter by its absolute path: point them at the final place.
    sed -i "1s|$tmp|$venv|" "$venv"/bin/* 2>/dev/null || true
    sed -i "s|$tmp|$venv|g" "$venv/bin/activate" "$venv/pyvenv.cfg" 2>/dev/null || true
    touch "$venv/.installed"
  fi
  printf '%s\n' "$venv"
}
