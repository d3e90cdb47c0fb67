-- promote: moves up to ARGV[8] due delayed jobs to waiting. Returns how many moved.
local ids = redis.call('ZRANGEBYSCORE', K_DUE, '-inf', fmt(NOW), 'LIMIT', 0, tonumber(ARGV[8]))
for _, id in ipairs(ids) do
  local jk = jkey(id)
  zset(K_DUE, id, false)
  local v = redis.call('HMGET', jk, 'st', 'pd', 'pr', 'ra', 'ca', 't')
  if v[1] == 'delayed' then
    redis.call('HSET', jk, 'st', 'waiting')
    move(id, 'delayed', 'waiting', v[5])
    if not v[2] then ready(id, v[3], v[4]) end
    event('job:enqueued', id, v[6], 'waiting', 'promoted')
  end
end
done()
return #ids
