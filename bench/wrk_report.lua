-- wrk script for bench/api_load.py: bearer auth, optional path rotation, and a JSON summary the driver parses.
--
--   wrk -t1 -c64 -d20s --latency -s bench/wrk_report.lua URL -- TOKEN [PATHS_FILE [ACCEPT_ENCODING]]
--
-- TOKEN goes into `Authorization: Bearer TOKEN` on every request. With PATHS_FILE (one request path and query per
-- line, e.g. `/api/v1/customers/C000123?as_of=2024-03-31`) each request takes the next path from the list, each
-- thread starting at its own offset; without it (or with "") every request goes to URL's path. ACCEPT_ENCODING
-- (e.g. gzip) is sent as `Accept-Encoding`; by default none is, and the server answers uncompressed. No `response()` callback is
-- defined on purpose: with one, wrk parses every body and calls into Lua per response, which costs the client CPU
-- that the server (on the same 2 cores) should get. Non-2xx/3xx responses are still counted, in errors.status.
--
-- done() prints one line `WRK_JSON {...}`: requests, duration_s, bytes, requests_per_s, the socket errors
-- (connect, read, write, timeout) and status (responses with a status above 399), and the latency percentiles
-- in milliseconds (wrk records microseconds).

local paths = nil
local fixed = nil
local next_index = 1
local threads_made = 0

-- Runs in the main Lua state once per thread, before the threads start: numbers the threads (a global in each
-- thread's own Lua state), so each starts its rotation at a different place.
function setup(thread)
  thread:set("thread_no", threads_made)
  threads_made = threads_made + 1
end

function init(args)
  local token = args[1]
  if token == nil or token == "" then
    error("wrk_report.lua: pass the bearer token after `--`")
  end
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Accept"] = "application/json"
  if args[3] ~= nil and args[3] ~= "" then
    wrk.headers["Accept-Encoding"] = args[3]
  end
  local file = args[2]
  if file ~= nil and file ~= "" then
    paths = {}
    for line in io.lines(file) do
      if line ~= "" then
        paths[#paths + 1] = line
      end
    end
    if #paths == 0 then
      error("wrk_report.lua: no paths in " .. file)
    end
    -- Spread the threads over the list (thread_no is set by setup()).
    next_index = ((thread_no or 0) * 7919) % #paths + 1
  else
    fixed = wrk.format()  -- built once: URL's path with the headers above
  end
end

function request()
  if fixed ~= nil then
    return fixed
  end
  local path = paths[next_index]
  next_index = next_index % #paths + 1
  return wrk.format("GET", path)
end

local function ms(us)
  return us / 1000.0
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  local out = {
    string.format('"requests": %d', summary.requests),
    string.format('"duration_s": %.6f', seconds),
    string.format('"bytes": %d', summary.bytes),
    string.format('"requests_per_s": %.3f', summary.requests / seconds),
    string.format('"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}',
      e.connect, e.read, e.write, e.status, e.timeout),
    string.format('"latency_ms": {"min": %.3f, "mean": %.3f, "stdev": %.3f, "max": %.3f, ' ..
      '"p50": %.3f, "p90": %.3f, "p99": %.3f, "p999": %.3f}',
      ms(latency.min), ms(latency.mean), ms(latency.stdev), ms(latency.max),
      ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
      ms(latency:percentile(99.9))),
  }
  io.write("WRK_JSON {" .. table.concat(out, ", ") .. "}\n")
end
