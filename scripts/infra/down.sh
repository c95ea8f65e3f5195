#!/usr/bin/env bash
# Stop EmoStream's local services (idempotent). Data is kept unless --purge.
#
# Usage: scripts/infra/down.sh [--purge] [kafka] [registry] [redis] [postgres]   (no names = all)
#   --purge   also delete the services' data (Kafka topics/offsets, registry schemas, the archive database)
#        scripts/infra/down.sh --profile cluster [--purge] [kafka] [registry] [redis] [spark]
#          (or INFRA_PROFILE=cluster): stop the cluster profile (scripts/infra/cluster.sh)
set -euo pipefail
_svc_tag=down
# shellcheck source=scripts/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
route_profile down "$@"
set -- ${PROFILE_ARGS[@]+"${PROFILE_ARGS[@]}"}

purge=0
services=()
for a in "$@"; do
  case "$a" in
    --purge) purge=1 ;;
    kafka|registry|redis|postgres) services+=("$a") ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$a'" ;;
  esac
done
((${#services[@]})) || services=(postgres redis registry kafka)
ensure_dirs

declare -A jobs=()
for s in "${services[@]}"; do
  if ((purge)) && [[ "$s" != redis ]]; then
    "$INFRA_SCRIPTS_DIR/$s.sh" reset &
  else
    "$INFRA_SCRIPTS_DIR/$s.sh" stop &
  fi
  jobs[$s]=$!
done
failed=()
for s in "${services[@]}"; do
  wait "${jobs[$s]}" || failed+=("$s")
done
if ((purge)) && [[ " ${services[*]} " == *" redis "* ]]; then
  rm -rf "$EMOSTREAM_INFRA_DIR/redis"
fi
rm -f "$EMOSTREAM_INFRA_DIR/env"
((${#failed[@]} == 0)) || die "failed to stop: ${failed[*]}"
for s in "${services[@]}"; do
  "$INFRA_SCRIPTS_DIR/$s.sh" status 2>/dev/null || true
done
