-- wrk script: each request carries the next token from the file given after `--` (distinct tokens).
local tokens = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
end
function request()
  i = i + 1
  local t = tokens[(i - 1) % #tokens + 1]
  return wrk.format("GET", "/v1/bench", { ["Authorization"] = "Bearer " .. t })
end
