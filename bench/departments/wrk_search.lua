-- GET /emergency/fhir/Observation?subject=Patient/{id}, cycling through the subjects.
dofile("bench/departments/wrk_common.lua")
local refs, i, headers = {}, 0, nil
function init(args)
  headers = bench_headers(args[1])
  for line in io.lines(args[1] .. "/subjects.txt") do refs[#refs + 1] = line end
end
function request()
  i = i % #refs + 1
  return wrk.format("GET", "/emergency/fhir/Observation?subject=" .. refs[i], headers)
end
