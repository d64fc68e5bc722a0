#!/usr/bin/env bash
# Sweep throughput per store (memory, SQLite, Redis, PostgreSQL): SESSIONS expired sessions (default 1,000,000)
# swept in batches of 1,000 while a reader looks up live ones; prints the table for bench/results/sweep.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/servers.sh
start_redis
start_postgres
dotnet run -c Release --project bench/Bouncer.Bench -- sweep --redis "$REDIS_ENDPOINT" --postgres "$POSTGRES_CONNECTION" \
  --sessions "${SESSIONS:-1000000}" --out "${OUT:-/tmp/bouncer-sweep-table.md}"
