-- progress: ARGV[8] = ID, [9] = token, [10] = progress JSON. Returns 0 when the lease is lost.
local jk = JP .. ARGV[8]
local v = redis.call('HMGET', jk, 'st', 'lt', 't')
if v[1] ~= 'active' or v[2] ~= ARGV[9] then return 0 end
redis.call('HSET', jk, 'pg', ARGV[10])
event('job:progress', ARGV[8], v[3], 'active', '')
flush_events()
return 1
