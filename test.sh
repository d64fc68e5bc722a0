#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing (redis-server, PostgreSQL,
# pgbouncer, chromium), builds, runs every test project. The tests start private redis-server (single
# node and a 6-node cluster), PostgreSQL and pgbouncer instances on 127.0.0.1 under a temp folder and
# stop them by PID; the trap below is the safety net.
# Prints "N passed, N failed, N skipped" last and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null || missing+=(chromium)
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

root=$(mktemp -d /tmp/bouncer-test.XXXXXX)
chmod 755 "$root"   # the PostgreSQL cluster runs as the postgres user and must reach its folder
cleanup() {
  # Anything a crashed test left running has its data folder under $root.
  pkill -9 -f "$root" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT
export TMPDIR="$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export BOUNCER_ARTIFACTS="$PWD/artifacts"   # browser screenshots land here

status=0
if ! dotnet build Bouncer.slnx -c Release -nologo -v quiet; then
  echo "0 passed, 1 failed, 0 skipped"   # the build itself failed: nothing could run
  exit 1
fi
dotnet test Bouncer.slnx -c Release --no-build --logger trx --results-directory "$root/results" \
  --blame-hang-timeout 5m -- RunConfiguration.TestSessionTimeout=1200000 || status=$?

passed=0; failed=0; skipped=0
for trx in "$root"/results/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi   # a crashed or hung run counts as a failure
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
