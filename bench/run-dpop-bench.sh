#!/usr/bin/env bash
# DPoP over HTTP: GET /api/me with a DPoP-bound RS256 token and one fresh proof per request (ES256 and EdDSA client
# keys) next to the same RS256 token as a plain bearer, same script, same run. wrk 2 threads, 32 connections;
# the proofs are made before each run (bench/dpop.lua sends each once). Then the in-process verify cost
# (bench/Bouncer.Bench -- dpop). Writes bench/results/dpop.md.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
work=$(mktemp -d /tmp/bouncer-dpop-bench.XXXXXX)
app_pid=
cleanup() { [ -z "$app_pid" ] || kill "$app_pid" 2>/dev/null || true; rm -rf "$work"; rm -f /tmp/bouncer-dpop-proofs-*.txt; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

dotnet build bench/Bouncer.Bench.Http -c Release -nologo -v quiet >/dev/null
dotnet build bench/Bouncer.Bench -c Release -nologo -v quiet >/dev/null
app=bench/Bouncer.Bench.Http/bin/Release/net10.0/Bouncer.Bench.Http.dll
duration=${DURATION:-6}
runs=${RUNS:-3}
# Proofs made per second of load: above the rate the server reaches, or the run ends in replays (the check below
# says so). Not far above it: making them takes time, and a proof older than the 60 s proof lifetime is refused.
rate=${PROOFS_PER_SECOND:-12000}
modes=(${MODES:-bouncer-jwt-rs256 bouncer-dpop-es256 bouncer-dpop-eddsa})
results="$work/results.tsv"
: > "$results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$runs"); do
  # Modes interleaved per round, so drift on the shared machine hits every row alike.
  for mode in "${modes[@]}"; do
    port=$(free_port)
    base="http://127.0.0.1:$port"
    dotnet "$app" --mode "$mode" --urls "$base" >"$work/$mode.log" 2>&1 &
    app_pid=$!
    for _ in $(seq 1 100); do curl -sf "$base/bench/credential" >/dev/null 2>&1 && break; sleep 0.2; done
    cred=$(curl -sf "$base/bench/credential")
    authorization=${cred#Authorization: }
    token=${authorization#* }
    header=X-Pad; [ "$mode" = bouncer-jwt-rs256 ] || header=DPoP
    proofs=$(curl -sf "$base/bench/dpop-proofs?token=$token&count=$((rate * 2))")
    wrk -t2 -c32 -d2s -s bench/dpop.lua "$base/api/me" -- "$proofs" "$authorization" "$header" 2 >/dev/null   # warm-up (JIT)
    fresh=$(curl -sf "$base/bench/dpop-proofs?token=$token&count=$((rate * duration))")
    out=$(wrk -t2 -c32 -d"${duration}s" --latency -s bench/dpop.lua "$base/api/me" -- "$fresh" "$authorization" "$header" 2)
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    if [ -n "$non2xx" ]; then
      echo "$mode: $non2xx non-2xx answers (out of proofs: raise PROOFS_PER_SECOND; or proofs too old: lower it)" >&2
      curl -s -H "Authorization: $authorization" -H "DPoP: $(head -1 "$fresh")" "$base/api/me" >&2; echo >&2
      exit 1
    fi
    printf '%s\t%s\t%s\t%s\n' "$mode" "$round" "$rps" "$p99" >> "$results"
    echo "$mode round $round: $rps req/s, p99 $p99"
    rm -f "$proofs" "$fresh"
    kill "$app_pid"; wait "$app_pid" 2>/dev/null || true; app_pid=
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
inproc=$(dotnet bench/Bouncer.Bench/bin/Release/net10.0/Bouncer.Bench.dll dpop 2>/dev/null)
python3 - "$results" "$duration" "$runs" "$load_before" "$load_after" "$inproc" <<'PY' > bench/results/dpop.md
import sys, statistics, datetime
path, duration, runs, before, after, inproc = sys.argv[1:]
rows = {}
for line in open(path):
    mode, _, rps, p99 = line.rstrip("\n").split("\t")
    rows.setdefault(mode, []).append((float(rps), p99))
names = {"bouncer-jwt-rs256": "Bouncer JWT RS256, plain bearer", "bouncer-dpop-es256": "Bouncer JWT RS256 + DPoP, ES256 proof",
         "bouncer-dpop-eddsa": "Bouncer JWT RS256 + DPoP, EdDSA proof"}
base = statistics.median(r for r, _ in rows["bouncer-jwt-rs256"])
print("# DPoP benchmark: what a proof per request costs (RFC 9449)\n")
print(f"Produced by `bench/run-dpop-bench.sh` on {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; this machine: 2 cores, shared with other work "
      f"(load average {before} before, {after} after), so read the ratios, not the absolute figures.\n")
print(f"## Over HTTP: GET /api/me, wrk 2 threads, 32 connections, {duration} s per run after a 2 s warm-up, median of {runs} rounds (modes interleaved)\n")
print("Every request carries a fresh proof made before the run (bench/dpop.lua sends each once: a replayed jti is refused); "
      "the plain row sends a same-length padding header through the same script.\n")
print("| setup | req/s (median) | min..max | p99 (median) | vs plain bearer |")
print("|---|---:|---:|---:|---:|")
for mode in ["bouncer-jwt-rs256", "bouncer-dpop-es256", "bouncer-dpop-eddsa"]:
    if mode not in rows: continue
    rs = [r for r, _ in rows[mode]]
    m = statistics.median(rs)
    p99 = sorted(p for _, p in rows[mode])[len(rows[mode]) // 2]
    print(f"| {names[mode]} | {m:,.0f} | {min(rs):,.0f}..{max(rs):,.0f} | {p99} | {m / base:.0%} |")
print()
print(inproc)
PY
cat bench/results/dpop.md
