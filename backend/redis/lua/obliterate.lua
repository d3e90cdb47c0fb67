-- obliterate: ARGV[8] = '1' to force, [9] = most jobs to delete in this call, [10] = the
-- prefix of the queue's repeatable hashes. Returns
-- {'active'}, {'nf'}, {'more', deleted} or {'done', deleted, repeatable IDs}.
if redis.call('EXISTS', K_META) == 0 then return {'nf'} end
if ARGV[8] ~= '1' and redis.call('ZCARD', SKEY.active) > 0 then return {'active'} end
local chunk = tonumber(ARGV[9])
local left = chunk
-- The lane holds waiting jobs too.
local sets = {K_LANE}
for _, st in ipairs({'waiting', 'waiting-children', 'active', 'delayed', 'completed', 'failed', 'cancelled'}) do
  sets[#sets + 1] = SKEY[st]
end
for _, set in ipairs(sets) do
  if left <= 0 then break end
  local ids = redis.call('ZRANGE', set, 0, left - 1)
  for _, id in ipairs(ids) do deljob(id) end
  left = left - #ids
end
flush_z()
if left <= 0 then return {'more', DELETED} end
local reps = redis.call('ZRANGE', K_RIDS, 0, -1)
for _, id in ipairs(reps) do redis.call('DEL', ARGV[10] .. id) end
redis.call('DEL', K_META, K_READY, K_DUE, K_LEASE, K_UNIQ, K_RIDS, K_RDUE, SKEY.waiting, SKEY.active, SKEY.delayed, SKEY.completed, SKEY.failed, SKEY.cancelled, SKEY['waiting-children'], FKEY.completed, FKEY.failed, FKEY.cancelled, K_OLD_ACTIVE, K_PACK, K_LANE)
if GLOBAL then redis.call('SREM', K_QUEUES, QNAME) end
event('queue:changed', '', '', '', 'obliterated')
flush_events()
return {'done', DELETED, reps}
