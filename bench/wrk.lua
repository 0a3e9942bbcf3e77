-- wrk script of `npm run bench`. WRK_LINES names a file of one line per request, sent in turn:
-- WRK_MODE=bearer sends each line as a bearer token, WRK_MODE=form POSTs it as a form body.
-- Prints one JSON line with the totals and the latency percentiles (microseconds).
local lines = {}
local next_line = 0
local mode = os.getenv("WRK_MODE") or ""

function init(args)
  local path = os.getenv("WRK_LINES")
  if path and path ~= "" then
    for line in io.lines(path) do lines[#lines + 1] = line end
  end
end

function request()
  if #lines == 0 then return wrk.format() end
  next_line = next_line % #lines + 1
  local line = lines[next_line]
  if mode == "form" then
    return wrk.format("POST", nil, { ["Content-Type"] = "application/x-www-form-urlencoded" }, line)
  end
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. line })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"non2xx":%d,"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
