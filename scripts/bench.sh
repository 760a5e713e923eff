#!/usr/bin/env bash
# `make bench`: a fresh engaged (embedded NATS, private Postgres, all under a
# temporary directory) driven by bin/engaged-bench for a short fixed time, then
# the table. Knobs: BENCH_DURATION (per scenario, default 10s),
# BENCH_SCENARIOS (default: engaged-bench's standard list),
# BENCH_MEMORY_ITEMS (memory scenario on its own, default 100000; 0 skips it),
# BENCH_SERVER_BIN (the server binary, default bin/engaged: for before/after runs).
# Any ENGAGED_* variable set by the caller (ENGAGED_SYNC, ENGAGED_PARTITIONS…)
# reaches the server. Extra arguments go to engaged-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${BENCH_DURATION:-10s}
items=${BENCH_MEMORY_ITEMS:-100000}
dir=$(mktemp -d /tmp/engaged-bench.XXXXXX)
scripts/pg.sh start "$dir" >/dev/null

export ENGAGED_DATA_DIR=$dir ENGAGED_HTTP_ADDR=127.0.0.1:18181 ENGAGED_NATS_LISTEN=127.0.0.1:14333 \
  ENGAGED_TRUSTED_PROXIES=127.0.0.1 ENGAGED_PPROF_ADDR=127.0.0.1:16161 ENGAGED_IDLE_TIMEOUT=${BENCH_IDLE_TIMEOUT:-20s}
"${BENCH_SERVER_BIN:-bin/engaged}" serve 2>"$dir/serve.log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; scripts/pg.sh stop "$dir"; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -sf "http://$ENGAGED_HTTP_ADDR/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(go version | cut -d' ' -f3)"
echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
ENGAGED_PPROF_ADDR= bin/engaged-bench -url "http://$ENGAGED_HTTP_ADDR" -nats "nats://$ENGAGED_NATS_LISTEN" \
  -duration "$dur" "$@" ${BENCH_SCENARIOS:-}
[ "$items" = 0 ] && exit 0
ENGAGED_PPROF_ADDR= bin/engaged-bench -url "http://$ENGAGED_HTTP_ADDR" -debug-url "http://$ENGAGED_PPROF_ADDR" \
  -items "$items" -connections 16 -passivate-wait 90s memory
