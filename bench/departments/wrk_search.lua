-- GET /emergency/fhir/Observation?subject=Patient/{id}, cycling through the subjects.
local refs, i = {}, 0
function init(args)
  for line in io.lines(args[1] .. "/subjects.txt") do refs[#refs + 1] = line end
end
function request()
  i = i % #refs + 1
  return wrk.format("GET", "/emergency/fhir/Observation?subject=" .. refs[i])
end
