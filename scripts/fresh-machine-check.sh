#!/usr/bin/env bash
# Proof on a bare machine: the README's two commands (`make render`, `make test`) from a fresh
# clone, with an empty ~/.cache and with this machine's own PostgreSQL and Redis stopped (the
# suite starts private servers; nothing may lean on the machine's). Both services are started
# again at the end, whatever happened. Prints each command's result and wall time, and writes
# them to fresh-machine-check.txt in the current directory.
#
#   scripts/fresh-machine-check.sh [--keep-services] [REPO]   (REPO: what to clone; default this one)
#
# --keep-services leaves the machine's servers running (for a machine others are testing on):
# the suite still uses only its own, since NARRATOR_TEST_PG / NARRATOR_TEST_REDIS are unset here.
# Stopping services needs root (systemctl or service). Takes as long as both commands
# (about 7 + 16 minutes on a 2-core machine with a warm package cache).
set -uo pipefail

keep=0
if [[ "${1:-}" == "--keep-services" ]]; then keep=1; shift; fi
repo=${1:-$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)}
work=$(mktemp -d /tmp/narrator-fresh-XXXXXX)
report="$PWD/fresh-machine-check.txt"
stopped=()

service_ctl() {  # service_ctl stop|start NAME
  if command -v systemctl >/dev/null && systemctl list-units --type=service --all 2>/dev/null | grep -q "$2"; then
    systemctl "$1" "$2"
  else
    service "$2" "$1"
  fi
}

restart_services() {
  for name in "${stopped[@]}"; do
    service_ctl start "$name" && echo "restarted $name" || echo "could NOT restart $name: start it by hand" >&2
  done
}
trap restart_services EXIT

if [[ $keep -eq 0 ]]; then
  for name in postgresql redis-server; do
    if service_ctl stop "$name" >/dev/null 2>&1; then stopped+=("$name"); echo "stopped $name"; fi
  done
  if (echo > /dev/tcp/127.0.0.1/5432) 2>/dev/null || (echo > /dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    echo "something still listens on 5432 or 6379: the check would not prove anything" >&2
    exit 2
  fi
fi

git clone --quiet "$repo" "$work/narrator" || exit 1
mkdir -p "$work/home"
run() {  # run NAME COMMAND...: time a command in the clone, with an empty home (so an empty ~/.cache)
  local name=$1; shift
  local start=$SECONDS
  (cd "$work/narrator" && env -u NARRATOR_TEST_PG -u NARRATOR_TEST_REDIS HOME="$work/home" "$@") \
    >"$work/$name.log" 2>&1
  local rc=$?
  local secs=$((SECONDS - start))
  printf '%-12s rc=%d  %dm%02ds  %s\n' "$name" "$rc" $((secs / 60)) $((secs % 60)) \
    "$(grep -E '[0-9]+ (passed|failed)|items? (rendered|ok)' "$work/$name.log" | tail -1)"
}
{
  echo "fresh-machine check $(date -u +%FT%TZ) on $(nproc) cores; machine's services: $([[ $keep -eq 1 ]] && echo kept running || echo stopped)"
  run "make-render" make render
  run "make-test" make test
} | tee "$report"
echo "logs: $work/*.log"
