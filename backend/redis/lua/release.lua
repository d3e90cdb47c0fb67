-- release: ID and token pairs from ARGV[8]. Jobs go back to waiting without the attempt.
for b = 8, #ARGV, 2 do
  local id = ARGV[b]
  local jk = jkey(id)
  local v = redis.call('HMGET', jk, 'st', 'lt', 'cr', 'ca', 't', 'pr', 'ra', 'at')
  if v[1] == 'active' and v[2] == ARGV[b + 1] then
    zset(K_LEASE, id, false)
    redis.call('HDEL', jk, 'lt', 'le', 'cr')
    if v[3] == '1' then
      redis.call('HSET', jk, 'st', 'cancelled', 'fa', fmt(NOW))
      move(id, 'active', 'cancelled', v[4])
      zset(FKEY.cancelled, id, NOW)
      event('job:cancelled', id, v[5], 'cancelled', '')
      parent_ended(id, 'cancelled')
    else
      redis.call('HSET', jk, 'st', 'waiting', 'at', math.max(tonumber(v[8] or '1') - 1, 0))
      move(id, 'active', 'waiting', v[4])
      ready(id, v[6], v[7])
      event('job:enqueued', id, v[5], 'waiting', 'released')
    end
  end
end
done()
return 1
