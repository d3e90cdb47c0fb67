-- drain: deletes waiting and waiting-children jobs; ARGV[8] = '1' to include delayed jobs, [9] =
-- most to delete in this call, [10] = deleted by earlier calls. Returns {n, deleted, done}.
if redis.call('EXISTS', K_META) == 0 then return {'nf'} end
local chunk = tonumber(ARGV[9])
local ids = redis.call('ZRANGE', SKEY.waiting, 0, chunk - 1)
if #ids < chunk then
  local more = redis.call('ZRANGE', K_LANE, 0, chunk - #ids - 1)
  for _, id in ipairs(more) do ids[#ids + 1] = id end
end
if #ids < chunk then
  local more = redis.call('ZRANGE', SKEY['waiting-children'], 0, chunk - #ids - 1)
  for _, id in ipairs(more) do ids[#ids + 1] = id end
end
if #ids < chunk and ARGV[8] == '1' then
  local more = redis.call('ZRANGE', SKEY.delayed, 0, chunk - #ids - 1)
  for _, id in ipairs(more) do ids[#ids + 1] = id end
end
for _, id in ipairs(ids) do deljob(id) end
local n = #ids
local done = n < chunk
if done and n + tonumber(ARGV[10]) > 0 then event('queue:changed', '', '', '', 'drained') end
flush_z()
flush_events()
return {n, DELETED, done and 1 or 0}
