-- recover: ARGV[8] = max stalls, ARGV[9] = error tail for a failed job, then job IDs whose lease
-- looked expired. Returns {requeued, failed}.
local requeued, failed = {}, {}
local maxStalls = tonumber(ARGV[8])
for b = 10, #ARGV do
  local id = ARGV[b]
  local jk = jkey(id)
  local v = redis.call('HMGET', jk, 'st', 'le', 'cr', 'at', 'sl', 'ca', 't', 'pr', 'er')
  if v[1] == 'active' and v[2] and tonumber(v[2]) < NOW then
    zset(K_LEASE, id, false)
    redis.call('HDEL', jk, 'lt', 'le', 'cr')
    if v[3] == '1' then
      redis.call('HSET', jk, 'st', 'cancelled', 'fa', fmt(NOW))
      move(id, 'active', 'cancelled', v[6])
      zset(FKEY.cancelled, id, NOW)
      event('job:cancelled', id, v[7], 'cancelled', '')
      parent_ended(id, 'cancelled')
    else
      local sl = tonumber(v[5] or '0') + 1
      if sl > maxStalls then
        redis.call('HSET', jk, 'st', 'failed', 'fa', fmt(NOW), 'sl', sl, 'er', with_error(v[9], v[4] or '0', NOW, ARGV[9]))
        move(id, 'active', 'failed', v[6])
        zset(FKEY.failed, id, NOW)
        metric(v[7], 'f', 1)
        event('job:failed', id, v[7], 'failed', 'job stalled: lease expired')
        failed[#failed + 1] = id
        parent_ended(id, 'failed')
      else
        redis.call('HSET', jk, 'st', 'waiting', 'sl', sl)
        local ra = redis.call('HGET', jk, 'ra')
        move(id, 'active', 'waiting', v[6])
        ready(id, v[8], ra)
        event('job:stalled', id, v[7], 'waiting', '')
        requeued[#requeued + 1] = id
      end
    end
  end
end
done()
return {requeued, failed}
