# Sourced by the bench scripts: private redis-server and PostgreSQL on free loopback ports under one
# temp folder, stopped by PID when the calling script exits. Sets REDIS_ENDPOINT and POSTGRES_CONNECTION.
bench_work=$(mktemp -d /tmp/bouncer-bench.XXXXXX)
chmod 755 "$bench_work"
bench_pids=()
bench_stop() {
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$bench_work/pg/postmaster.pid" ] && runuser -u postgres -- pg_ctl -D "$bench_work/pg" stop -m fast >/dev/null 2>&1 || true
  rm -rf "$bench_work"
}
trap bench_stop EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
pg_bin() { command -v "$1" || ls /usr/lib/postgresql/*/bin/"$1" | tail -n 1; }

start_redis() {
  command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }
  local port; port=$(free_port)
  # No persistence: the bench measures lookups and pushes, not fsync.
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$bench_work" >/dev/null &
  bench_pids+=($!)
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  REDIS_ENDPOINT="127.0.0.1:$port"
}

# A 3-master Redis Cluster (one replica each, no persistence); sets REDIS_CLUSTER to its nodes, comma-separated.
start_redis_cluster() {
  local ports=() p ok
  for _ in 1 2 3 4 5 6; do
    while :; do p=$(free_port); [ "$p" -le 55535 ] && break; done   # the cluster bus listens on port + 10000
    mkdir -p "$bench_work/cluster/$p"
    redis-server --port "$p" --bind 127.0.0.1 --dir "$bench_work/cluster/$p" --cluster-enabled yes --cluster-config-file nodes.conf \
      --save "" --appendonly no >/dev/null &
    bench_pids+=($!)
    ports+=("$p")
  done
  for p in "${ports[@]}"; do for _ in $(seq 1 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done; done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 --cluster-yes >/dev/null
  for _ in $(seq 1 300); do
    ok=1
    for p in "${ports[@]}"; do redis-cli -p "$p" cluster info | grep -q cluster_state:ok || ok=0; done
    [ "$ok" = 1 ] && break; sleep 0.1
  done
  REDIS_CLUSTER=$(printf '127.0.0.1:%s,' "${ports[@]}"); REDIS_CLUSTER=${REDIS_CLUSTER%,}
}

start_postgres() {
  local port; port=$(free_port)
  mkdir -p "$bench_work/pg" && chown postgres "$bench_work/pg"
  runuser -u postgres -- "$(pg_bin initdb)" -D "$bench_work/pg" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$(pg_bin pg_ctl)" -D "$bench_work/pg" -l "$bench_work/pg/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -k $bench_work/pg -c fsync=off" start >/dev/null
  POSTGRES_CONNECTION="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
}
