#!/usr/bin/env bash
# Sweep throughput per store (memory, SQLite, Redis, Redis Cluster, PostgreSQL): SESSIONS expired sessions, refresh
# families and revocation-log entries each (default 1,000,000; SESSIONS=100000 for a quick run), swept while a
# reader looks up live ones; prints the table for bench/results/sweep.md. STORES=memory,sqlite limits the stores;
# further arguments go to the bench (`--families 0 --revocations 0`: sessions only).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/servers.sh
start_redis
start_redis_cluster
start_postgres
# Built into the run's own folder: edits to the tree meanwhile cannot touch the running binaries.
dotnet build -c Release -nologo -v q bench/Bouncer.Bench -o "$bench_work/bin" >/dev/null
dotnet "$bench_work/bin/Bouncer.Bench.dll" sweep --redis "$REDIS_ENDPOINT" --redis-cluster "$REDIS_CLUSTER" \
  --postgres "$POSTGRES_CONNECTION" --sessions "${SESSIONS:-1000000}" --stores "${STORES:-memory,sqlite,redis,cluster,postgres}" \
  --out "${OUT:-/tmp/bouncer-sweep-table.md}" "$@"
