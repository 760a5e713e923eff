#!/usr/bin/env bash
# `make bench`: a fresh engaged (embedded NATS, private Postgres, all under a
# temporary directory) driven by bin/engaged-bench, then the tables and the
# targets met or not. By default: trivial (the HTTP ceiling every row is a
# share of), the key-space scenarios keyspace (1k, 10k and 100k renders),
# cold (two runs in a row over 250k pre-created renders), first-touch (100k
# new renders with 100k live), zipf (100k), naive (the row-per-event
# baseline, 10k renders) and memory-full, about 7 minutes on 2 cores.
# Knobs: BENCH_DURATION (per measured run, default 10s),
# BENCH_SCENARIOS (default: the list above; the older standard list is
# "ingest-batch ingest-single read read-mixed visible raw-js"; issue 20's
# costs: BENCH_SCENARIOS="top seen" BENCH_ITEMS=100000, with --users 100000,
# the default),
# BENCH_ITEMS (the -items list, default 1000,10000,100000),
# BENCH_COLD_ITEMS (renders pre-created for cold, default 250000),
# BENCH_CONNECTIONS (closed-loop connections, default 32),
# BENCH_MEMORY_FULL_ITEMS (renders given full state by memory-full, default 5000),
# BENCH_MEMORY_ITEMS (the plain memory scenario on its own, default 0 = skipped),
# BENCH_IDLE_TIMEOUT (the server's, default 45s: longer than warming 100k
# renders and measuring them, or keyspace measures reactivations; short
# enough for memory-full's two passivation waits),
# BENCH_LOG_LEVEL (the server's ENGAGED_LOG_LEVEL, default warn: no access-log
# line per request, as the figures measured before the access log existed),
# BENCH_SERVER_BIN (the server binary, default bin/engaged: for before/after runs).
# Any ENGAGED_* variable set by the caller (ENGAGED_SYNC, ENGAGED_PARTITIONS…)
# reaches the server. Extra arguments go to engaged-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${BENCH_DURATION:-10s}
items=${BENCH_MEMORY_ITEMS:-0}
dir=$(mktemp -d /tmp/engaged-bench.XXXXXX)
scripts/pg.sh start "$dir" >/dev/null

export ENGAGED_DATA_DIR=$dir ENGAGED_HTTP_ADDR=127.0.0.1:18181 ENGAGED_NATS_LISTEN=127.0.0.1:14333 \
  ENGAGED_TRUSTED_PROXIES=127.0.0.1 ENGAGED_ADMIN_ADDR=127.0.0.1:16161 ENGAGED_DRAIN_DELAY=0 \
  ENGAGED_LOG_LEVEL=${BENCH_LOG_LEVEL:-warn} ENGAGED_IDLE_TIMEOUT=${BENCH_IDLE_TIMEOUT:-45s}
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
bin/engaged-bench -url "http://$ENGAGED_HTTP_ADDR" -nats "nats://$ENGAGED_NATS_LISTEN" \
  -admin-url "http://$ENGAGED_ADMIN_ADDR" -passivate-wait 90s -duration "$dur" \
  -items "${BENCH_ITEMS:-1000,10000,100000}" -cold-items "${BENCH_COLD_ITEMS:-250000}" \
  -connections "${BENCH_CONNECTIONS:-32}" \
  -memory-items "${BENCH_MEMORY_FULL_ITEMS:-5000}" \
  "$@" ${BENCH_SCENARIOS:-trivial keyspace cold first-touch zipf naive memory-full}
[ "$items" = 0 ] && exit 0
bin/engaged-bench -url "http://$ENGAGED_HTTP_ADDR" -admin-url "http://$ENGAGED_ADMIN_ADDR" \
  -items "$items" -connections 16 -passivate-wait 90s memory
