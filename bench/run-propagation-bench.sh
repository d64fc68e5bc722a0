#!/usr/bin/env bash
# Revocation across three running Bouncer servers under load, from the announcing request's start
# (bench/Bouncer.Bench/PropagationBench.cs): per backend (Redis, Redis Cluster, PostgreSQL) three server processes
# on one store, wrk on all three, one logout-all at a time on one of them until the other two refuse the user's
# cookie and token. Writes bench/results/propagation.md (or $OUT).
#
#   bench/run-propagation-bench.sh            COUNT=200 LOAD_CONNECTIONS=16 BACKENDS="redis cluster postgres"
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
source bench/servers.sh
out=${OUT:-bench/results/propagation.md}
rows="$bench_work/rows.md"
backends=(${BACKENDS:-redis cluster postgres})

[ -n "${SERVER_DLL:-}" ] || dotnet build src/Bouncer.Server -c Release -nologo -v quiet >/dev/null
dotnet build bench/Bouncer.Bench -c Release -nologo -v quiet >/dev/null
server=${SERVER_DLL:-src/Bouncer.Server/bin/Release/net10.0/Bouncer.Server.dll}
bench=bench/Bouncer.Bench/bin/Release/net10.0/Bouncer.Bench.dll

run_backend() {   # name store connection
  local name=$1 store=$2 connection=$3 urls=() spids=() port url
  for i in 1 2 3; do
    port=$(free_port); url="http://127.0.0.1:$port"
    ASPNETCORE_ENVIRONMENT=Production dotnet "$server" --urls "$url" --store "$store" --connection "$connection" \
      --Bouncer:RegistrationsPerMinute 100000 --Bouncer:RefreshesPerMinute 100000 \
      --Bouncer:LoginFailuresPerMinute 100000 --Bouncer:KeyEncryption:KeyFile "$bench_work/$name.key" \
      --Logging:LogLevel:Default Warning >"$bench_work/$name-$i.log" 2>&1 &
    spids+=($!); bench_pids+=($!); urls+=("$url")
  done
  for i in 0 1 2; do
    for _ in $(seq 1 150); do curl -sf "${urls[$i]}/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
    curl -sf "${urls[$i]}/healthz" >/dev/null || { echo "server $((i + 1)) on $name did not start:" >&2; cat "$bench_work/$name-$((i + 1)).log" >&2; exit 1; }
  done
  dotnet "$bench" propagation --servers "$(IFS=,; echo "${urls[*]}")" --label "$name" --count "${COUNT:-200}" \
    --load-connections "${LOAD_CONNECTIONS:-16}" --out "$rows"
  for p in "${spids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -z "${KEEP_LOGS:-}" ] || cp "$bench_work/$name"-*.log "$KEEP_LOGS/"
}

for b in "${backends[@]}"; do
  case $b in
    redis) start_redis; run_backend "Redis" redis "$REDIS_ENDPOINT" ;;
    cluster) start_redis_cluster; run_backend "Redis Cluster" redis "$REDIS_CLUSTER" ;;
    postgres) start_postgres; run_backend "PostgreSQL" postgres "$POSTGRES_CONNECTION" ;;
  esac
done

{
  echo "# Revocation across three servers under load"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores, \`bench/run-propagation-bench.sh\`. Per backend: three Bouncer server"
  echo "processes (\`Bouncer.Server\`, Production, near cache on) on one store, \`wrk -t1 -c${LOAD_CONNECTIONS:-16}\` on \`GET /api/me\` against each"
  echo "(a JWT), and ${COUNT:-200} users logged out everywhere one at a time (\`POST /auth/logout-all\` with the user's access"
  echo "token, the announcing server rotating) while the other two servers are polled with the user's session cookie"
  echo "(held in their near caches) and access token until all four answer 401. Times from the moment the logout-all"
  echo "was sent; \"refused everywhere\" is the last of the four refusals."
  echo
  cat "$rows"
} > "$out"
cat "$out"
