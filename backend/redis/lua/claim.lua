-- claim: ARGV[8] = limit, [9] = lease (µs), [10] = worker ID, [11] = token prefix, [12] = how
-- many members past the limit to look at for jobs whose run-at is still ahead.
local meta = redis.call('HMGET', K_META, 'pz', 'rl', 'ri', 'rs', 'rc')
if meta[1] == '1' then return {} end
local limit = tonumber(ARGV[8])
local rl = tonumber(meta[2] or '0')
local rs, rc = nil, 0
if rl > 0 then
  if meta[4] and NOW < tonumber(meta[4]) + tonumber(meta[3]) then
    rs = tonumber(meta[4]); rc = tonumber(meta[5] or '0')
  end
  limit = math.min(limit, rl - rc)
  if limit <= 0 then return {} end
end
local cands = redis.call('ZRANGE', K_READY, 0, limit + tonumber(ARGV[12]) - 1)
local out, n = {}, 0
local lease = tonumber(ARGV[9])
for _, m in ipairs(cands) do
  if n >= limit then break end
  local ra = tonumber(string.sub(m, 12, 28))
  if ra <= NOW then
    local id = string.sub(m, 29)
    local jk = JP .. id
    n = n + 1
    redis.call('ZREM', K_READY, m)
    local le = NOW + lease
    redis.call('HINCRBY', jk, 'at', 1)
    redis.call('HSET', jk, 'st', 'active', 'lt', ARGV[11] .. n .. ':' .. QNAME, 'le', fmt(le), 'sa', fmt(NOW), 'w', ARGV[10])
    local v = redis.call('HMGET', jk, 'ca', 't')
    move(id, 'waiting', 'active', v[1])
    redis.call('ZADD', K_LEASE, le, id)
    metric('s', 1, 'ws', fmt((NOW - ra) * 1000))
    event('job:started', id, v[2], 'active', '')
    out[#out + 1] = id
    out[#out + 1] = redis.call('HGETALL', jk)
  end
end
if rl > 0 and n > 0 then
  redis.call('HSET', K_META, 'rs', fmt(rs or NOW), 'rc', rc + n)
end
flush_metrics()
return out
