-- GET /api/v1/users/{id} for a random seeded id; paced when RATE is set.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local ids = {}

function init(args)
  for line in io.lines(os.getenv("LOADTEST_IDS")) do
    ids[#ids + 1] = line
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  return wrk.format("GET", "/api/v1/users/" .. ids[math.random(#ids)])
end
