#!/usr/bin/env bash
# Start-up benchmark: seconds from the command to the first 200 from /healthz, for the README's run command on a
# fresh clone (cold: restore + build + start), the same command again (warm: build up to date), and a published
# binary (`dotnet publish` once, then start it). The NuGet global packages folder is the machine's: a fresh clone,
# not a fresh machine. Each start runs the server on a free port in its own temp folder and stops it by PID.
#
#   bench/run-startup-bench.sh [runs] [cold-runs]   (default 3 warm and published runs, 1 cold: a fresh clone each)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-3}"
cold_runs="${2:-1}"
root="$(mktemp -d /tmp/bouncer-startup-XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -- "-$server_pid" 2>/dev/null || kill "$server_pid"; fi
  rm -rf -- "$root"
}
trap cleanup EXIT INT TERM
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# time_to_healthy <workdir> <command...>: prints seconds to the first 200 from /healthz, then stops the server.
time_to_healthy() {
  local dir="$1"; shift
  local port; port="$(free_port)"
  local start; start="$(date +%s.%N)"
  (cd "$dir" && exec setsid "$@" --urls "http://127.0.0.1:$port" >"$root/server.log" 2>&1) &
  server_pid=$!
  until curl -fs -o /dev/null "http://127.0.0.1:$port/healthz"; do
    kill -0 "$server_pid" 2>/dev/null || { echo "server exited:" >&2; tail -20 "$root/server.log" >&2; exit 1; }
    sleep 0.05
  done
  local end; end="$(date +%s.%N)"
  kill -- "-$server_pid" 2>/dev/null || kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
  python3 -c "print(f'{$end - $start:.2f}')"
}

echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
for i in $(seq 1 "$cold_runs"); do
  git clone -q "$repo" "$root/clone$i"
  # Uncommitted work in the repository is not in a clone: bench what is committed.
  mkdir -p "$root/run$i"
  echo "cold dotnet run (fresh clone $i): $(time_to_healthy "$root/run$i" dotnet run --project "$root/clone$i/src/Bouncer.Server" --)"
done
for i in $(seq 1 "$runs"); do
  echo "warm dotnet run $i: $(time_to_healthy "$root/run1" dotnet run --project "$root/clone1/src/Bouncer.Server" --)"
done
publish_start="$(date +%s.%N)"
dotnet publish "$root/clone1/src/Bouncer.Server" -c Release -o "$root/published" -nologo -v q >/dev/null
echo "dotnet publish -c Release (once): $(python3 -c "print(f'{$(date +%s.%N) - $publish_start:.2f}')")"
mkdir -p "$root/pub"
for i in $(seq 1 "$runs"); do
  echo "published binary $i: $(time_to_healthy "$root/pub" "$root/published/Bouncer.Server")"
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
