-- POST /api/v1/users with an email unique to this run, thread and request;
-- paced when RATE is set.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local threads = {}
local counter = 0
local prefix = ""

function setup(thread)
  thread:set("tid", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  prefix = (os.getenv("LOADTEST_RUN") or "run") .. "-" .. tostring(tid)
end

function request()
  counter = counter + 1
  local body = string.format('{"email":"%s-%d@load.example","full_name":"Load Test"}', prefix, counter)
  return wrk.format("POST", "/api/v1/users", { ["Content-Type"] = "application/json" }, body)
end
