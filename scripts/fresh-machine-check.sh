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

listening() {  # listening PORT: whether anything accepts connections on 127.0.0.1:PORT
  (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Each server is stopped and started the way it was started here: PostgreSQL through its
# cluster tool (or the init script), Redis, which may run daemonized outside any init system,
# by SHUTDOWN and a fresh daemonized server with the settings it had (no persistence).
stop_postgresql() {
  local version
  version=$(ls /etc/postgresql 2>/dev/null | head -1)
  if [[ -n $version ]]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main stop
  else
    service postgresql stop
  fi
}
start_postgresql() {
  local version
  version=$(ls /etc/postgresql 2>/dev/null | head -1)
  if [[ -n $version ]]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
  else
    service postgresql start
  fi
}
stop_redis() { redis-cli -h 127.0.0.1 -p 6379 shutdown nosave; }
start_redis() {
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
}

restart_services() {
  for name in "${stopped[@]}"; do
    "start_$name" >/dev/null 2>&1
    sleep 2
    case $name in postgresql) port=5432 ;; redis) port=6379 ;; esac
    if listening "$port"; then echo "restarted $name"; else echo "could NOT restart $name: start it by hand" >&2; fi
  done
}
trap restart_services EXIT

if [[ $keep -eq 0 ]]; then
  for pair in postgresql:5432 redis:6379; do
    name=${pair%%:*}; port=${pair##*:}
    listening "$port" || continue
    "stop_$name" >/dev/null 2>&1
    sleep 2
    if listening "$port"; then
      echo "could not stop $name: the check would not prove anything" >&2
      exit 2
    fi
    stopped+=("$name"); echo "stopped $name"
  done
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
    "$(grep -E '[0-9]+ (passed|failed)|items written' "$work/$name.log" | tail -1)"
}
{
  echo "fresh-machine check $(date -u +%FT%TZ) on $(nproc) cores; machine's services: $([[ $keep -eq 1 ]] && echo kept running || echo stopped)"
  run "make-render" make render
  run "make-test" make test
} | tee "$report"
echo "logs: $work/*.log"
