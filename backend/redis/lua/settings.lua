-- settings: ARGV[8] = 'pause' with [9] = '1'/'0', or 'rate' with [9] = limit, [10] = interval (µs).
local created = known()
if ARGV[8] == 'pause' then
  if ARGV[9] == '1' then
    redis.call('HSET', K_META, 'pz', '1')
    event('queue:changed', '', '', '', 'paused')
  else
    redis.call('HDEL', K_META, 'pz')
    event('queue:changed', '', '', '', 'resumed')
    if redis.call('ZCARD', K_READY) > 0 or redis.call('ZCARD', K_LANE) > 0 then woke = true end
  end
else
  if ARGV[9] == '0' then
    redis.call('HDEL', K_META, 'rl', 'ri', 'rs', 'rc')
  else
    redis.call('HSET', K_META, 'rl', ARGV[9], 'ri', ARGV[10])
  end
  woke = true
end
done()
return created
