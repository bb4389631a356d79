-- wrk script for bench/votes.py: each thread sends its share of a file of pre-signed Twilio
-- requests exactly once, counts the answers, and stops when the last one is in, printing
-- THREAD-DONE (wrk itself runs until -d or SIGINT, which bench/votes.py sends then).
-- Arguments: FILE THREADS PATH [METHOD]. FILE has one request a line: for POST (the default),
-- the Twilio signature, a tab and the form body; for GET (Kannel's smsbox), the query string.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *now);
]]
local CLOCK_MONOTONIC, moment = 1, ffi.new("bench_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, moment)
  return tonumber(moment.tv_sec) * 1000000 + math.floor(tonumber(moment.tv_nsec) / 1000)
end

local threads, created = {}, 0

function setup(thread)
  thread:set("index", created)
  created = created + 1
  table.insert(threads, thread)
end

function init(args)
  local file, count, path, method = args[1], tonumber(args[2]), args[3], args[4] or "POST"
  requests, sent, answered, ok, failed = {}, 0, 0, 0, 0
  local line_number = 0
  for line in io.lines(file) do
    if line_number % count == index then
      if method == "GET" then
        requests[#requests + 1] = wrk.format("GET", path .. "?" .. line)
      else
        local signature, body = line:match("^([^\t]*)\t(.*)$")
        requests[#requests + 1] = wrk.format("POST", path, {
          ["Content-Type"] = "application/x-www-form-urlencoded",
          ["X-Twilio-Signature"] = signature,
        }, body)
      end
    end
    line_number = line_number + 1
  end
  done_request = wrk.format("GET", "/bench-done")
  -- wrk calls the first thread's request() once before connecting, to check it: not a send.
  checking = index == 0
end

-- Once a connection has sent its last vote it idles while the others finish, instead of
-- sending more: the thread stops as soon as every answer is in.
function delay()
  if sent < #requests then return 0 end
  return 1000
end

function request()
  if checking then
    checking = false
    return requests[1] or done_request
  end
  if sent < #requests then
    if sent == 0 then started = now_us() end
    sent = sent + 1
    return requests[sent]
  end
  return done_request -- answered 404, not counted
end

function response(status, headers, body)
  if status == 404 then return end
  answered = answered + 1
  if status == 200 then ok = ok + 1 else failed = failed + 1 end
  if answered == #requests then
    finished = now_us()
    io.write("THREAD-DONE\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total, first, last = {ok = 0, failed = 0, sent = 0}, nil, 0
  for _, thread in ipairs(threads) do
    for name, _ in pairs(total) do total[name] = total[name] + thread:get(name) end
    first = math.min(first or thread:get("started"), thread:get("started"))
    last = math.max(last, thread:get("finished") or thread:get("started"))
  end
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"ok": %d, "failed": %d, "sent": %d, "responses": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    total.ok, total.failed, total.sent, summary.requests, last - first, latency:percentile(50),
    latency:percentile(99), latency.max, errors.connect, errors.read, errors.write, errors.timeout))
end
