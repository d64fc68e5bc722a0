#!/usr/bin/env bash
# Revocation propagation per transport (in-process, SQLite, Redis pub/sub, Redis Cluster sharded pub/sub,
# PostgreSQL LISTEN/NOTIFY) and the cost of the revocation check; writes bench/results/revocation.md (or $OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/servers.sh
start_redis
start_redis_cluster
start_postgres
dotnet run -c Release --project bench/Bouncer.Bench -- revocation --redis "$REDIS_ENDPOINT" --redis-cluster "$REDIS_CLUSTER" \
  --postgres "$POSTGRES_CONNECTION" --count "${COUNT:-1000}" --out "${OUT:-bench/results/revocation.md}"
