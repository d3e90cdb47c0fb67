-- waiting_page (waitingPage in lane.go): KEYS[1] = s:waiting, KEYS[2] = the lane; ARGV[1..2] =
-- ranks from and to (inclusive), ARGV[3] = '1' for newest first. Returns
-- {count, IDs}.
local A, B = KEYS[1], KEYS[2]
local from, to, rev = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1'
local a, b = redis.call('ZCARD', A), redis.call('ZCARD', B)
local total = a + b
if to >= total then to = total - 1 end
local out = {total}
if from < 0 or from > to then return out end
local function range(key, i, j, scores)
  if rev then
    if scores then return redis.call('ZRANGE', key, i, j, 'REV', 'WITHSCORES') end
    return redis.call('ZRANGE', key, i, j, 'REV')
  end
  if scores then return redis.call('ZRANGE', key, i, j, 'WITHSCORES') end
  return redis.call('ZRANGE', key, i, j)
end
-- One of the two empty: the other's ranks are the listing's.
if a == 0 or b == 0 then
  for _, id in ipairs(range(a == 0 and B or A, from, to, false)) do out[#out + 1] = id end
  return out
end
-- before reports whether the member (s1, m1) comes before (s2, m2) in listing order; the two
-- sets hold distinct members.
local function before(s1, m1, s2, m2)
  local lt
  if s1 ~= s2 then lt = s1 < s2 else lt = bytes_lt(m1, m2) end
  if rev then return not lt end
  return lt
end
local function at(key, i)
  local r = range(key, i, i, true)
  return tonumber(r[2]), r[1]
end
-- i is how many of A's members come before rank from: the least i at which B's member before
-- rank from - i comes before A's i-th, or the most A can give.
local lo, hi = math.max(0, from - b), math.min(from, a)
while lo < hi do
  local i = math.floor((lo + hi) / 2)
  local sa, ma = at(A, i)
  local sb, mb = at(B, from - i - 1)
  if before(sb, mb, sa, ma) then hi = i else lo = i + 1 end
end
local n = to - from + 1
local ra, rb = range(A, lo, lo + n - 1, true), range(B, from - lo, from - lo + n - 1, true)
local x, y = 1, 1
while #out <= n do
  local takeA
  if x > #ra then takeA = false
  elseif y > #rb then takeA = true
  else takeA = before(tonumber(ra[x + 1]), ra[x], tonumber(rb[y + 1]), rb[y]) end
  if takeA then
    out[#out + 1] = ra[x]; x = x + 2
  else
    if y > #rb then break end
    out[#out + 1] = rb[y]; y = y + 2
  end
end
return out
