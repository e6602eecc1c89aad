-- POST /emergency/fhir/Observation with one corpus Observation (a new id each time).
local body
function init(args)
  local f = assert(io.open(args[1] .. "/observation.json"))
  body = f:read("*a")
  f:close()
end
function request()
  return wrk.format("POST", "/emergency/fhir/Observation", {["Content-Type"] = "application/fhir+json"}, body)
end
