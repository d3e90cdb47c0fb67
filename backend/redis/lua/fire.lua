-- fire: KEYS[NQKEYS + 1] is the repeatable's hash and KEYS[NQKEYS + 2] its queue's due set (the job's queue
-- on Cluster, where both must share a slot). ARGV[8] = repeatable ID, [9] = expected next run,
-- [10] = next run, then one job (NF arguments, see enqueue_lib.lua).
local rk, rdue = KEYS[NQKEYS + 1], KEYS[NQKEYS + 2]
local r = redis.call('HMGET', rk, 'nr', 'pz')
if not r[1] then return {'nf'} end
if r[2] == '1' or r[1] ~= ARGV[9] then return {'conflict'} end
local batch = batch_ids(11, 1)
local err = enqueue_check(11, 1, batch)
if err then return err end
local created = known()
enqueue_write(11, 1, batch)
redis.call('HSET', rk, 'nr', ARGV[10], 'lr', fmt(NOW))
redis.call('ZADD', rdue, ARGV[10], ARGV[8])
done()
return {'ok', created}
