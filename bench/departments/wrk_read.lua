-- GET /emergency/fhir/Patient/{id}, cycling through the loaded patients.
dofile("bench/departments/wrk_common.lua")
local ids, i, headers = {}, 0, nil
function init(args)
  headers = bench_headers(args[1])
  for line in io.lines(args[1] .. "/patients.txt") do ids[#ids + 1] = line end
end
function request()
  i = i % #ids + 1
  return wrk.format("GET", "/emergency/fhir/Patient/" .. ids[i], headers)
end
