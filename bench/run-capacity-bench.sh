#!/usr/bin/env bash
# Memory per session and per refresh family on each store (memory, SQLite, Redis, Redis Cluster, PostgreSQL), and bytes
# per revocation-set entry; prints the tables for docs/scaling.md. SESSIONS (default 100,000) per store.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/servers.sh
start_redis
start_redis_cluster
start_postgres
dotnet build -c Release -nologo -v q bench/Bouncer.Bench -o "$bench_work/bin" >/dev/null
dotnet "$bench_work/bin/Bouncer.Bench.dll" capacity --redis "$REDIS_ENDPOINT" --redis-cluster "$REDIS_CLUSTER" --postgres "$POSTGRES_CONNECTION" \
  --sessions "${SESSIONS:-100000}" --out "${OUT:-/tmp/bouncer-capacity-table.md}"
