-- wrk script: every request submits a rating with a token of its own (each used once).
-- TOKENS_FILE holds one path per line, e.g. /api/v1/invitations/<token>/rating.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  paths = {}
  for line in io.lines(os.getenv("TOKENS_FILE")) do paths[#paths + 1] = line end
  stride = tonumber(os.getenv("WRK_THREADS"))
  n = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"score": 8}'
end

function request()
  local index = n * stride + id + 1
  n = n + 1
  if index > #paths then index = #paths end
  return wrk.format(nil, paths[index])
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.3f %.3f %d\n", summary.requests,
    summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status))
end
