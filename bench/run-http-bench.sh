#!/usr/bin/env bash
# HTTP benchmark: GET /api/me with 32 connections (wrk) under each authentication setup, median of 3
# runs each, on this machine. Writes bench/results/http.md and bench/results/http.svg.
# Starts a private redis-server on a free loopback port under a temp folder; stops it by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }

work=$(mktemp -d /tmp/bouncer-http-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --daemonize no >/dev/null &
pids+=($!)

dotnet build bench/Bouncer.Bench.Http -c Release -nologo -v quiet >/dev/null
app=bench/Bouncer.Bench.Http/bin/Release/net10.0/Bouncer.Bench.Http.dll
duration=${DURATION:-8s}
# Long enough for tiered JIT to settle on a shared machine: with 3 s the first measured run still compiled.
warmup=${WARMUP:-6s}
modes=(${MODES:-none noop-auth bouncer-session-sqlite bouncer-session-redis bouncer-session-redis-nocache bouncer-jwt-hs256 bouncer-jwt-rs256 bouncer-jwt-es256 cookie jwtbearer-hs256 jwtbearer-rs256 jwtbearer-es256})
results="$work/results.tsv"
: > "$results"
# Every setup's server runs at once and the three measured rounds interleave the setups (round 1 of each, then round 2
# ...), so a burst of load from the machine's other users falls on all of them alike: ratios within one run compare.
declare -A ports creds app_pids
for mode in "${modes[@]}"; do
  port=$(free_port)
  dotnet "$app" --mode "$mode" --urls "http://127.0.0.1:$port" --redis "127.0.0.1:$redis_port" >"$work/$mode.log" 2>&1 &
  app_pids[$mode]=$!; pids+=($!); ports[$mode]=$port
done
for mode in "${modes[@]}"; do
  port=${ports[$mode]}
  for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$port/bench/credential" >/dev/null 2>&1 && break; sleep 0.2; done
  cred=$(curl -sf "http://127.0.0.1:$port/bench/credential")
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "$cred" "http://127.0.0.1:$port/api/me")
  [ "$status" = 200 ] || { echo "$mode: /api/me answered $status with its credential" >&2; exit 1; }
  creds[$mode]=$cred
  wrk -t2 -c32 -d"$warmup" -H "$cred" "http://127.0.0.1:$port/api/me" >/dev/null   # warm-up (JIT, caches)
done
for run in 1 2 3; do
  for mode in "${modes[@]}"; do
    out=$(wrk -t2 -c32 -d"$duration" --latency -H "${creds[$mode]}" "http://127.0.0.1:${ports[$mode]}/api/me")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    [ -z "$non2xx" ] || { echo "$mode: $non2xx non-2xx answers" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\n' "$mode" "$run" "$rps" "$p99" >> "$results"
    echo "$mode run $run: $rps req/s, p99 $p99"
  done
done
for mode in "${modes[@]}"; do kill "${app_pids[$mode]}" 2>/dev/null || true; wait "${app_pids[$mode]}" 2>/dev/null || true; done
python3 bench/http-report.py "$results" bench/results/http.md bench/results/http.svg "$duration" "$warmup"
