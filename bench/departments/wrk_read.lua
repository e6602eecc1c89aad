-- GET /emergency/fhir/Patient/{id}, cycling through the loaded patients.
local ids, i = {}, 0
function init(args)
  for line in io.lines(args[1] .. "/patients.txt") do ids[#ids + 1] = line end
end
function request()
  i = i % #ids + 1
  return wrk.format("GET", "/emergency/fhir/Patient/" .. ids[i])
end
