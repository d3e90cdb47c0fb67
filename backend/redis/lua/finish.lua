-- finish: ARGV[8..] are outcomes of 10 arguments: ID, token, outcome, result, error tail, error
-- time, error message, retry delay (µs after NOW), duration (ns), duration bucket. Returns 'ok'
-- or 'lost' for each.
local out = {}
local now = fmt(NOW)
for b = 8, #ARGV, 10 do
  local id, token, outcome = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local jk = JP .. id
  local v = redis.call('HMGET', jk, 'st', 'lt', 'at', 'ca', 't', 'pr', 'ch', 'er')
  if v[1] ~= 'active' or v[2] ~= token then
    out[#out + 1] = 'lost'
  else
    out[#out + 1] = 'ok'
    -- Each job of the call leaves the lease set once: a second outcome for it finds it no
    -- longer active.
    zset_once(K_LEASE, id, false)
    -- The lease fields are emptied in the job's one HSET rather than deleted by an HDEL of
    -- their own: every script and the decoder read an empty field as an absent one.
    local f = {'lt', '', 'le', '', 'cr', ''}
    if ARGV[b + 4] ~= '' then
      local eat = ARGV[b + 5] == '0' and NOW or tonumber(ARGV[b + 5])
      f[#f + 1] = 'er'
      f[#f + 1] = with_error(v[8], v[3] or '0', eat, ARGV[b + 4])
    end
    local msg, dur, bucket = ARGV[b + 6], ARGV[b + 8], 'd' .. ARGV[b + 9]
    if outcome == 'retry' then
      local ra = NOW + tonumber(ARGV[b + 7])
      local st = ra > NOW and 'delayed' or 'waiting'
      f[#f + 1] = 'st'; f[#f + 1] = st
      f[#f + 1] = 'ra'; f[#f + 1] = fmt(ra)
      redis.call('HSET', jk, unpack(f))
      move(id, 'active', st, v[4])
      if st == 'delayed' then zset(K_DUE, id, ra) else ready(id, v[6], ra) end
      event('job:retrying', id, v[5], st, msg)
      metric(v[5], 'r', 1)
    else
      f[#f + 1] = 'st'; f[#f + 1] = outcome
      f[#f + 1] = 'fa'; f[#f + 1] = now
      if outcome == 'completed' and ARGV[b + 3] ~= '' then
        f[#f + 1] = 'r'; f[#f + 1] = ARGV[b + 3]
      end
      redis.call('HSET', jk, unpack(f))
      zset_once(SKEY[outcome], id, v[4])
      zset_once(FKEY[outcome], id, now)
      if outcome == 'completed' then
        release_children(v[7])
        metric(v[5], 'c', 1, 'ds', dur, bucket, 1)
        event('job:completed', id, v[5], outcome, '')
      elseif outcome == 'failed' then
        metric(v[5], 'f', 1, 'ds', dur, bucket, 1)
        event('job:failed', id, v[5], outcome, msg)
        parent_ended(id, outcome)
      else
        event('job:cancelled', id, v[5], outcome, msg)
        parent_ended(id, outcome)
      end
    end
  end
end
done()
return out
