-- wrk: GET of a random 64 KiB range of a file of SIZE bytes (wrk's -- SIZE).
local size
function init(args) size = tonumber(args[1]) end
function request()
  local start = math.random(0, size - 65536)
  return wrk.format("GET", nil, { Range = "bytes=" .. start .. "-" .. (start + 65535) })
end
