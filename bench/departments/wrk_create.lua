-- POST /emergency/fhir/Observation with one corpus Observation (a new id each time).
dofile("bench/departments/wrk_common.lua")
local body, headers
function init(args)
  headers = bench_headers(args[1], {["Content-Type"] = "application/fhir+json"})
  local f = assert(io.open(args[1] .. "/observation.json"))
  body = f:read("*a")
  f:close()
end
function request()
  return wrk.format("POST", "/emergency/fhir/Observation", headers, body)
end
