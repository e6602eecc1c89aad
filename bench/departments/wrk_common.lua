-- Shared by wrk_read/search/create.lua (loaded with dofile from the repository root).
-- The access token is read from DATA/token (the caller refreshes it before each run); every
-- response outside 2xx is counted, and done() prints the count with the figures on one line:
--   figures: requests=N seconds=S rps=R p50_ms=A p99_ms=B non2xx=K socket_errors=E
local threads = {}
non2xx, first_non2xx = 0, nil

function bench_headers(dir, extra)
  local f = assert(io.open(dir .. "/token"))
  local token = f:read("*l")
  f:close()
  local h = {["Authorization"] = "Bearer " .. token}
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if not first_non2xx then first_non2xx = status .. " " .. string.sub(body or "", 1, 300) end
  end
end

function done(summary, latency, requests)
  local bad, first = 0, nil
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    first = first or t:get("first_non2xx")
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "figures: requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p99_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, seconds, summary.requests / seconds, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, bad, e.connect + e.read + e.write + e.timeout))
  if first then io.write("first non-2xx: " .. first .. "\n") end
end
