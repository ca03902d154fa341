-- wrk script for bench/load.sh: POST /api/calls/update with a JSON body.
--   BENCH_TOKEN        a bearer token sent on every request (hsgate), or unset
--   BENCH_TOKENS_FILE  one token per line: each request takes the next one
--                      (fresh-token mode), so no verified-token cache helps
--   BENCH_TOKEN_START  first token index for this run (fresh-token mode)
--   BENCH_THREADS      wrk's thread count (fresh-token mode)
-- done() prints one machine-readable BENCH_RESULT line.

wrk.method = "POST"
wrk.path = "/api/calls/update"
wrk.body = '{"Id":"call-1001","Notes":"Called back, moved to Tue 10:30"}'
wrk.headers["Content-Type"] = "application/json"

local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end

local tokens_file = os.getenv("BENCH_TOKENS_FILE")
if tokens_file == "" then tokens_file = nil end

-- Main state: remember the threads so done() can read their counters.
local threads = {}
function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

-- Thread states (fresh-token mode only): thread `tid` of `nthreads` takes
-- tokens start + tid, start + tid + nthreads, ... ; `used` counts them.
used = 0
if tokens_file then
   local tokens, ntokens, start, nthreads
   function init(args)
      tokens = {}
      for line in io.lines(tokens_file) do
         if line ~= "" then tokens[#tokens + 1] = line end
      end
      ntokens = #tokens
      start = tonumber(os.getenv("BENCH_TOKEN_START") or "0")
      nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
   end
   function request()
      local i = (start + tid + used * nthreads) % ntokens
      used = used + 1
      return wrk.format(nil, nil, {
         ["Host"] = wrk.headers["Host"],
         ["Content-Type"] = "application/json",
         ["Authorization"] = "Bearer " .. tokens[i + 1],
      }, nil)
   end
end

function done(summary, latency, requests)
   local max_used = 0
   for _, t in ipairs(threads) do
      local u = tonumber(t:get("used")) or 0
      if u > max_used then max_used = u end
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d bytes=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f mean_us=%.1f"
         .. " err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d tokens_span=%d\n",
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
      e.connect, e.read, e.write, e.status, e.timeout, max_used * #threads))
end
