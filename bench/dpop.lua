-- wrk script for bench/run-dpop-bench.sh: every request carries the run's Authorization header and its own line of
-- the proofs file as header `name` (DPoP for the DPoP rows, X-Pad of the same length for the plain-bearer row).
-- wrk -s bench/dpop.lua URL -- FILE AUTHORIZATION NAME THREADS
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local file, threads = args[1], tonumber(args[4])
  authorization, name = args[2], args[3]
  lines, n, i = {}, 0, 0
  local at = 0
  for line in io.lines(file) do
    -- Each thread takes every THREADS-th line: no proof is sent twice.
    if at % threads == id then n = n + 1; lines[n] = line end
    at = at + 1
  end
end

function request()
  i = i + 1
  -- Past the end the proofs repeat: the server refuses the replays and the script reports the non-2xx answers.
  if i > n then i = 1 end
  return wrk.format("GET", "/api/me", { ["Authorization"] = authorization, [name] = lines[i] })
end
