-- extend (heartbeat): ARGV[8] = lease (µs), then ID and token pairs. Returns {lost, cancelled}.
local lost, cancelled = {}, {}
local le = NOW + tonumber(ARGV[8])
for b = 9, #ARGV, 2 do
  local id = ARGV[b]
  local jk = JP .. id
  local v = redis.call('HMGET', jk, 'st', 'lt', 'cr')
  if v[1] ~= 'active' or v[2] ~= ARGV[b + 1] then
    lost[#lost + 1] = id
  else
    redis.call('HSET', jk, 'le', fmt(le))
    zset(K_LEASE, id, le)
    if v[3] == '1' then cancelled[#cancelled + 1] = id end
  end
end
done()
return {lost, cancelled}
