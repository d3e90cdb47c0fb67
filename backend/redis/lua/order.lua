-- bytes_lt reports whether string x sorts before y byte by byte, as Redis orders the members of
-- a sorted set that share a score: Lua's own < follows the server's locale.
local function bytes_lt(x, y)
  if x == y then return false end
  for i = 1, math.min(#x, #y) do
    local cx, cy = string.byte(x, i), string.byte(y, i)
    if cx ~= cy then return cx < cy end
  end
  return #x < #y
end
