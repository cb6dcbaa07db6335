-- Shared by get.lua, list.lua and create.lua (wrk loads one script per run,
-- which loads this): pacing, and the RESULT line scripts/loadtest.sh and
-- scripts/instructions.sh read.
local pace_ms = tonumber(os.getenv("LOADTEST_PACE_MS") or "0")

function delay()
  return pace_ms
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d p50=%d p99=%d p999=%d\n",
    summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
