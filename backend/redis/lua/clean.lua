-- clean: ARGV[8] = state, [9] = older-than (µs, '' for any age), [10] = most to delete in this
-- call, [11] = keep, [12] = deleted by earlier calls of the same clean, [13] = '1' when this call
-- is the last the limit allows. Returns {n, deleted, done}.
if redis.call('EXISTS', K_META) == 0 then return {'nf'} end
local fk = FKEY[ARGV[8]]
local eligible = redis.call('ZCARD', fk) - tonumber(ARGV[11])
local chunk = tonumber(ARGV[10])
local n = 0
if eligible > 0 then
  local maxScore = ARGV[9] == '' and '+inf' or ('(' .. ARGV[9])
  local ids = redis.call('ZRANGEBYSCORE', fk, '-inf', maxScore, 'LIMIT', 0, math.min(eligible, chunk))
  for _, id in ipairs(ids) do deljob(id) end
  n = #ids
end
local done = n < chunk or ARGV[13] == '1'
if done and n + tonumber(ARGV[12]) > 0 then event('queue:changed', '', '', '', 'cleaned') end
flush_z()
flush_events()
return {n, DELETED, done and 1 or 0}
