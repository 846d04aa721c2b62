-- wrk script of bench/run. Arguments (after `--`): MODE FILE [check]
--   MODE basic  : POST grant_type=client_credentials, `Authorization: Basic <line>` (form + Basic)
--   MODE json   : POST the line as an application/json body (the reference's JSON request)
--   MODE bearer : GET with `Authorization: Bearer <line>` and `360-api-version: v2.0`
-- Each line of FILE is one request; requests go round-robin, each thread from its own offset.
-- With `check`, every response's status is counted and non-200 answers are printed at the end
-- (the smoke mode; it costs a Lua call per response, so the measured runs leave it out).
local reqs = {}
local i = 0
bad = 0
seen = 0

function init(args)
  local mode, file, check = args[1], args[2], args[3]
  for line in io.lines(file) do
    if line ~= "" then
      if mode == "basic" then
        reqs[#reqs + 1] = wrk.format("POST", nil, {
          ["Content-Type"] = "application/x-www-form-urlencoded",
          ["Authorization"] = "Basic " .. line,
        }, "grant_type=client_credentials&scope=groups%3Aread%20groups%3Awrite")
      elseif mode == "json" then
        reqs[#reqs + 1] = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, line)
      elseif mode == "bearer" then
        reqs[#reqs + 1] = wrk.format("GET", nil, {
          ["Authorization"] = "Bearer " .. line,
          ["360-api-version"] = "v2.0",
        }, nil)
      else
        error("unknown mode " .. tostring(mode))
      end
    end
  end
  if #reqs == 0 then error("no requests in " .. tostring(file)) end
  math.randomseed(os.time() + #tostring({}))
  i = math.random(#reqs) - 1
  if check == "check" then
    response = function(status, headers, body)
      seen = seen + 1
      if status ~= 200 then bad = bad + 1 end
    end
  end
end

function request()
  i = (i % #reqs) + 1
  return reqs[i]
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

function done(summary, latency, requests)
  local b, s = 0, 0
  for _, t in ipairs(threads) do
    b = b + (t:get("bad") or 0)
    s = s + (t:get("seen") or 0)
  end
  if s > 0 then io.write(string.format("checked %d responses, non-200: %d\n", s, b)) end
end
