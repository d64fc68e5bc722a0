#!/usr/bin/env bash
# Adds every public symbol the build reports as undeclared (RS0016) to its project's PublicAPI.Unshipped.txt, and
# drops declared symbols that no longer exist (RS0017). Review the diff: the files are the API's change log.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(dotnet build "${1:-Bouncer.slnx}" -c Release -nologo -v quiet 2>&1 || true)   # a project or the solution
python3 - "$out" <<'PY'
import re, sys, collections, os
added = collections.defaultdict(set); removed = collections.defaultdict(set)
for line in sys.argv[1].splitlines():
    m = re.search(r"error RS001([67]): Symbol '(.+?)' is (?:not part of the declared public API|part of the declared API, but is either not public or could not be found).*\[(.+?\.csproj)\]", line)
    if not m: continue
    target = os.path.join(os.path.dirname(m.group(3)), "PublicAPI.Unshipped.txt")
    (added if m.group(1) == "6" else removed)[target].add(m.group(2))
for target in set(added) | set(removed):
    lines = open(target).read().splitlines()
    head, body = lines[:1], [l for l in lines[1:] if l and l not in removed[target]]
    body = sorted(set(body) | added[target])
    open(target, "w").write("\n".join(head + body) + "\n")
    print(f"{target}: +{len(added[target])} -{len(removed[target])}")
PY
