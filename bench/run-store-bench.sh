#!/usr/bin/env bash
# Session-store benchmark: starts a private redis-server, a private 3-master Redis Cluster (one replica each) and a
# private PostgreSQL cluster on free loopback ports under one temp folder, runs `Bouncer.Bench store` against them,
# and stops them all by PID on exit.
#
#   bench/run-store-bench.sh [--quick] [extra StoreBench args]     -> bench/results/store.md
#
# Bench settings, not production ones: Redis runs with AOF and RDB off (persistence does not touch reads);
# PostgreSQL runs with fsync off and shared_buffers large enough to hold the 1M-row table and its indexes
# (reads are served from memory, as a warmed production server would for a hot sessions table).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

root="$(mktemp -d /tmp/bouncer-storebench-XXXXXX)"
redis_pid=""
pg_bin=""
pgdata="$root/pg"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cluster_pids=()
cleanup() {
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true; fi
  for p in "${cluster_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$pg_bin" ] && [ -f "$pgdata/postmaster.pid" ]; then
    as_pg "$pg_bin/pg_ctl" stop -D "$pgdata" -m fast -w -t 30 >/dev/null 2>&1 || {
      pid="$(head -1 "$pgdata/postmaster.pid" 2>/dev/null || true)"; [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; }
  fi
  rm -rf -- "$root"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# ---- Redis ----
redis_port="$(free_port)"
mkdir -p "$root/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$root/redis" --appendonly no --save "" \
  --daemonize no --logfile "$root/redis/redis.log" &
redis_pid=$!
for _ in $(seq 100); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
redis-cli -p "$redis_port" ping | grep -q PONG || { echo "redis-server did not start"; cat "$root/redis/redis.log"; exit 1; }

# ---- Redis Cluster: 3 masters with one replica each, no persistence (as the single node above) ----
cluster_ports=()
for _ in 1 2 3 4 5 6; do
  while :; do p="$(free_port)"; [ "$p" -le 55535 ] && break; done   # the cluster bus listens on port + 10000
  mkdir -p "$root/cluster/$p"
  redis-server --port "$p" --bind 127.0.0.1 --dir "$root/cluster/$p" --cluster-enabled yes --cluster-config-file nodes.conf \
    --appendonly no --save "" --daemonize no --logfile "$root/cluster/$p/redis.log" &
  cluster_pids+=($!)
  cluster_ports+=("$p")
done
for p in "${cluster_ports[@]}"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${cluster_ports[@]}") --cluster-replicas 1 --cluster-yes >/dev/null
for _ in $(seq 300); do
  ok=1
  for p in "${cluster_ports[@]}"; do redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' || ok=0; done
  [ "$ok" = 1 ] && break; sleep 0.1
done
[ "$ok" = 1 ] || { echo "the Redis Cluster did not become healthy"; exit 1; }
redis_cluster="$(printf '127.0.0.1:%s,' "${cluster_ports[@]}")"; redis_cluster="${redis_cluster%,}"

# ---- PostgreSQL ----
pg_bin="$(dirname "$(readlink -f "$(command -v initdb || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")")"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$root"
as_pg "$pg_bin/initdb" -D "$pgdata" -A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null
pg_port="$(free_port)"
cat >>"$pgdata/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$root'
fsync = off
max_connections = 600
shared_buffers = 768MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
EOF
as_pg "$pg_bin/pg_ctl" start -D "$pgdata" -l "$root/pg.log" -w -t 60 >/dev/null

echo "redis 127.0.0.1:$redis_port (pid $redis_pid), postgres 127.0.0.1:$pg_port ($("$pg_bin/postgres" --version)), temp $root" >&2
mkdir -p bench/results
dotnet run -c Release --project bench/Bouncer.Bench -- store \
  --redis "127.0.0.1:$redis_port" \
  --redis-cluster "$redis_cluster" \
  --postgres "Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres" \
  --sqlite-dir "$root" \
  --out bench/results/store.md "$@"
