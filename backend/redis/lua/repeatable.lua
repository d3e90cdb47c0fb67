-- repeatable: KEYS[NQKEYS + 1] is the definition's hash. ARGV[8] = op: 'upsert' (with [9] = ID, [10] =
-- definition JSON, [11] = next run, [12] = last run or '', [13] = created-at or '0', [14] =
-- paused), 'pause' ([9] = ID, [10] = '1'/'0') or 'remove' ([9] = ID).
local rk, id = KEYS[NQKEYS + 1], ARGV[9]
local op = ARGV[8]
if op == 'upsert' then
  local created = known()
  local ca = ARGV[13]
  if ca == '0' then ca = redis.call('HGET', rk, 'ca') or fmt(NOW) end
  redis.call('DEL', rk)
  redis.call('HSET', rk, 'd', ARGV[10], 'nr', ARGV[11], 'ca', ca)
  if ARGV[12] ~= '' then redis.call('HSET', rk, 'lr', ARGV[12]) end
  redis.call('ZADD', K_RIDS, 0, id)
  if ARGV[14] == '1' then
    redis.call('HSET', rk, 'pz', '1')
    redis.call('ZREM', K_RDUE, id)
  else
    redis.call('ZADD', K_RDUE, ARGV[11], id)
  end
  return created
end
if redis.call('EXISTS', rk) == 0 then return -1 end
if op == 'advance' then
  -- Cluster, job in another queue: move the schedule first ([10] expected, [11] next).
  local r = redis.call('HMGET', rk, 'nr', 'pz')
  if r[2] == '1' or r[1] ~= ARGV[10] then return -2 end
  redis.call('HSET', rk, 'nr', ARGV[11], 'lr', fmt(NOW))
  redis.call('ZADD', K_RDUE, ARGV[11], id)
  return 0
end
if op == 'revert' then
  -- The job of an advance could not be enqueued: put the schedule back ([10] expected, [11]
  -- next, [12] previous last run or '').
  if redis.call('HGET', rk, 'nr') == ARGV[11] then
    redis.call('HSET', rk, 'nr', ARGV[10])
    if ARGV[12] ~= '' then redis.call('HSET', rk, 'lr', ARGV[12]) else redis.call('HDEL', rk, 'lr') end
    if redis.call('HGET', rk, 'pz') ~= '1' then redis.call('ZADD', K_RDUE, ARGV[10], id) end
  end
  return 0
end
if op == 'pause' then
  if ARGV[10] == '1' then
    redis.call('HSET', rk, 'pz', '1')
    redis.call('ZREM', K_RDUE, id)
  else
    redis.call('HDEL', rk, 'pz')
    redis.call('ZADD', K_RDUE, redis.call('HGET', rk, 'nr'), id)
  end
else
  redis.call('DEL', rk)
  redis.call('ZREM', K_RIDS, id)
  redis.call('ZREM', K_RDUE, id)
end
return 0
