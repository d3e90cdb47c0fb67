-- finish: ARGV[8..] are outcomes of 10 arguments: ID, token, outcome, result, error tail, error
-- time, error message, retry delay (µs after NOW), duration (ns), duration bucket. Returns 'ok' or 'lost' for each.
local out = {}
for b = 8, #ARGV, 10 do
  local id, token, outcome = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local jk = JP .. id
  local v = redis.call('HMGET', jk, 'st', 'lt', 'at', 'ca', 't', 'pr')
  if v[1] ~= 'active' or v[2] ~= token then
    out[#out + 1] = 'lost'
  else
    out[#out + 1] = 'ok'
    redis.call('ZREM', K_LEASE, id)
    redis.call('HDEL', jk, 'lt', 'le', 'cr')
    if ARGV[b + 4] ~= '' then
      local eat = ARGV[b + 5] == '0' and NOW or tonumber(ARGV[b + 5])
      append_error(jk, v[3] or '0', eat, ARGV[b + 4])
    end
    local msg, dur, bucket = ARGV[b + 6], ARGV[b + 8], 'd' .. ARGV[b + 9]
    if outcome == 'retry' then
      local ra = NOW + tonumber(ARGV[b + 7])
      if ra > NOW then
        redis.call('HSET', jk, 'st', 'delayed', 'ra', fmt(ra))
        move(id, 'active', 'delayed', v[4])
        redis.call('ZADD', K_DUE, ra, id)
        event('job:retrying', id, v[5], 'delayed', msg)
      else
        redis.call('HSET', jk, 'st', 'waiting', 'ra', fmt(ra))
        move(id, 'active', 'waiting', v[4])
        ready(id, v[6], ra)
        event('job:retrying', id, v[5], 'waiting', msg)
      end
      metric('r', 1)
    else
      redis.call('HSET', jk, 'st', outcome, 'fa', fmt(NOW))
      if outcome == 'completed' and ARGV[b + 3] ~= '' then redis.call('HSET', jk, 'r', ARGV[b + 3]) end
      move(id, 'active', outcome, v[4])
      redis.call('ZADD', FKEY[outcome], NOW, id)
      if outcome == 'completed' then
        release_children(jk)
        metric('c', 1, 'ds', dur, bucket, 1)
        event('job:completed', id, v[5], outcome, '')
      elseif outcome == 'failed' then
        metric('f', 1, 'ds', dur, bucket, 1)
        event('job:failed', id, v[5], outcome, msg)
      else
        event('job:cancelled', id, v[5], outcome, msg)
      end
    end
  end
end
flush_metrics()
wake()
return out
