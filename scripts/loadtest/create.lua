-- POST /api/v1/users with an email unique to this run, thread and request;
-- paced when RATE is set.
local threads = {}
local counter = 0
local prefix = ""
local pace_ms = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  prefix = (os.getenv("LOADTEST_RUN") or "run") .. "-" .. tostring(tid)
  pace_ms = tonumber(os.getenv("LOADTEST_PACE_MS") or "0")
end

function request()
  counter = counter + 1
  local body = string.format('{"email":"%s-%d@load.example","full_name":"Load Test"}', prefix, counter)
  return wrk.format("POST", "/api/v1/users", { ["Content-Type"] = "application/json" }, body)
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
