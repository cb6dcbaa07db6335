-- GET /api/v1/users (the first page); paced when RATE is set.
local pace_ms = 0

function init(args)
  pace_ms = tonumber(os.getenv("LOADTEST_PACE_MS") or "0")
end

function request()
  return wrk.format("GET", "/api/v1/users")
end

function delay()
  return pace_ms
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d p50=%d p99=%d p999=%d\n",
    summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
