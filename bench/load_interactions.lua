-- wrk script for bench/load_interactions.py: replays pre-signed interactions, one file per
-- thread (kind TAB signature TAB timestamp TAB body per line), and reports JSON from done().
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1] .. "." .. tid
  requests, kinds, n = {}, {}, 0
  for line in io.lines(path) do
    local kind, sig, stamp, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
    n = n + 1
    kinds[n] = kind
    requests[n] = wrk.format("POST", "/interactions", {
      ["Content-Type"] = "application/json",
      ["X-Signature-Ed25519"] = sig,
      ["X-Signature-Timestamp"] = stamp,
    }, body)
  end
  i, cycled, ok, deferred, non200, s4xx, s5xx = 0, 0, 0, 0, 0, 0, 0
end

function request()
  i = i + 1
  if i > n then i = 1; cycled = cycled + 1 end
  return requests[i]
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    if body:find('"type":5', 1, true) or body:find('"type":6', 1, true) then
      deferred = deferred + 1
    end
  else
    non200 = non200 + 1
    if status >= 500 then s5xx = s5xx + 1 elseif status >= 400 then s4xx = s4xx + 1 end
  end
end

function done(summary, latency, requests)
  local t = {ok = 0, deferred = 0, non200 = 0, s4xx = 0, s5xx = 0, cycled = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"ok": %d, "deferred": %d, "non200": %d, "status_4xx": %d, "status_5xx": %d, ' ..
    '"pool_cycles": %d, "latency_us": {"min": %d, "mean": %.1f, "p50": %d, "p90": %d, ' ..
    '"p99": %d, "p999": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    t.ok, t.deferred, t.non200, t.s4xx, t.s5xx, t.cycled,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
