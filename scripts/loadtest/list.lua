-- GET /api/v1/users (the first page); paced when RATE is set.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

function request()
  return wrk.format("GET", "/api/v1/users")
end
