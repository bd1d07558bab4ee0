-- wrk script: POST the target file's body with its key. The target file
-- (written by TestServeWrkTargets) holds the URL, the key and the body,
-- one per line; run.sh passes its path after "--".
function init(args)
  local f = assert(io.open(args[1]))
  f:read("*l") -- the URL, given to wrk itself
  local key = f:read("*l")
  local body = f:read("*l")
  f:close()
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
end
