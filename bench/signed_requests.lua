-- wrk script for bench/harness.py: replays pre-signed Twilio webhook POSTs, each once.
-- wrk cannot compute Twilio's signature (HMAC-SHA1), so the harness writes the requests to a
-- file, one "signature urlencoded-body" line each; thread i of n takes lines i, i+n, i+2n...
-- An answer counts as good when it is a 200 whose body contains the expected text.
-- Arguments (after --): the file, the expected text, the number of wrk threads.
-- At the end it prints one line of JSON with the figures.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   local path, count = args[1], tonumber(args[3])
   expected = args[2]
   requests, sent, wrong, ran_out = {}, 0, 0, 0
   local line_number = 0
   for line in io.lines(path) do
      if line_number % count == id then
         local signature, body = line:match("^(%S+) (.*)$")
         local headers = {
            ["Content-Type"] = "application/x-www-form-urlencoded",
            ["X-Twilio-Signature"] = signature,
         }
         requests[#requests + 1] = wrk.format("POST", nil, headers, body)
      end
      line_number = line_number + 1
   end
end

function request()
   sent = sent + 1
   if sent > #requests then -- used up: go round again (replays), and say so
      ran_out, sent = 1, 1
   end
   return requests[sent]
end

function response(status, headers, body)
   if status ~= 200 or not string.find(body, expected, 1, true) then
      wrong = wrong + 1
   end
end

function done(summary, latency, _)
   local wrong_total, ran_out_total = 0, 0
   for _, thread in ipairs(threads) do
      wrong_total = wrong_total + thread:get("wrong")
      ran_out_total = ran_out_total + thread:get("ran_out")
   end
   local e = summary.errors
   io.write(string.format(
      '{"requests": %d, "seconds": %.6f, "p50_ms": %.3f, "p99_ms": %.3f, "socket_errors": %d, "wrong": %d, "ran_out": %d}\n',
      summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      e.connect + e.read + e.write + e.timeout, wrong_total, ran_out_total))
end
