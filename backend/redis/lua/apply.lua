-- apply: ARGV[8] = action, then job IDs. Returns {changed, deleted IDs}.
local action = ARGV[8]
local changed = 0
for b = 9, #ARGV do
  local id = ARGV[b]
  local jk = jkey(id)
  local v = redis.call('HMGET', jk, 'st', 'cr', 'ca', 't', 'pr', 'ra', 'pd')
  local st = v[1]
  if st then
    if action == 'retry' and TERMINAL[st] then
      -- A job whose parents have not all completed waits for them again.
      local to = v[7] and 'waiting-children' or 'waiting'
      redis.call('HDEL', jk, 'at', 'sl', 'r', 'pg', 'fa')
      redis.call('HSET', jk, 'st', to, 'ra', fmt(NOW))
      zset(FKEY[st], id, false)
      move(id, st, to, v[3])
      if not v[7] then ready(id, v[5], NOW) end
      event('job:enqueued', id, v[4], to, 'retried')
      changed = changed + 1
    elseif (action == 'cancel' or action == 'remove') and st == 'active' then
      if v[2] ~= '1' then
        redis.call('HSET', jk, 'cr', '1')
        event('job:cancelled', id, v[4], 'active', 'cancel requested')
        changed = changed + 1
      end
    elseif action == 'cancel' and (st == 'waiting' or st == 'waiting-children' or st == 'delayed') then
      if st == 'waiting' then zset(K_READY, rmember(v[5], v[6], id), false) end
      if st == 'delayed' then zset(K_DUE, id, false) end
      redis.call('HSET', jk, 'st', 'cancelled', 'fa', fmt(NOW))
      move(id, st, 'cancelled', v[3])
      zset(FKEY.cancelled, id, NOW)
      event('job:cancelled', id, v[4], 'cancelled', '')
      parent_ended(id, 'cancelled')
      changed = changed + 1
    elseif action == 'remove' then
      deljob(id)
      event('job:removed', id, v[4], st, '')
      changed = changed + 1
    elseif action == 'promote' and st == 'delayed' then
      zset(K_DUE, id, false)
      redis.call('HSET', jk, 'st', 'waiting', 'ra', fmt(NOW))
      move(id, 'delayed', 'waiting', v[3])
      if not v[7] then ready(id, v[5], NOW) end
      event('job:enqueued', id, v[4], 'waiting', 'promoted')
      changed = changed + 1
    end
  elseif action == 'remove' and redis.call('HEXISTS', K_PACK, id) == 1 then
    -- A waiting job whose record jkey could not read (it logged it) can still be removed.
    deljob(id)
    event('job:removed', id, '', 'waiting', '')
    changed = changed + 1
  end
end
done()
return {changed, DELETED}
