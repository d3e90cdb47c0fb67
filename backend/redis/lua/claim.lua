-- claim: ARGV[8] = limit, [9] = lease (µs), [10] = worker ID, [11] = token prefix, [12] = how
-- many members past the limit to look at for jobs whose run-at is still ahead. Returns {NOW, id,
-- fields before the claim, ...}: the client applies the claim's own fields (state, attempt,
-- token, lease, start, worker), which it knows, instead of reading the hash again.
local meta = redis.call('HMGET', K_META, 'pz', 'rl', 'ri', 'rs', 'rc')
if meta[1] == '1' then return {fmt(NOW)} end
local limit = tonumber(ARGV[8])
local rl = tonumber(meta[2] or '0')
local rs, rc = nil, 0
if rl > 0 then
  if meta[4] and NOW < tonumber(meta[4]) + tonumber(meta[3]) then
    rs = tonumber(meta[4]); rc = tonumber(meta[5] or '0')
  end
  limit = math.min(limit, rl - rc)
  if limit <= 0 then return {fmt(NOW)} end
end
local cands = redis.call('ZRANGE', K_READY, 0, limit + tonumber(ARGV[12]) - 1)
local out, n = {fmt(NOW)}, 0
local le = fmt(NOW + tonumber(ARGV[9]))
local now = fmt(NOW)
local taken = {}
-- A job's lease token is token .. its ID (see claim.go).
local token = ARGV[11] .. ':' .. QNAME .. '/'
-- NEXT_ATTEMPT turns the attempt of the job's hash into the next one without formatting a number,
-- which costs more than the rest of the job's HSET.
local NEXT_ATTEMPT = {[''] = '1', ['0'] = '1', ['1'] = '2', ['2'] = '3', ['3'] = '4', ['4'] = '5', ['5'] = '6', ['6'] = '7',
  ['7'] = '8', ['8'] = '9', ['9'] = '10', ['10'] = '11', ['11'] = '12'}
-- The candidates' packed records (record.go), read at once.
local recs = {}
for i = 1, #cands, 1000 do
  local ids = {}
  for k = i, math.min(i + 999, #cands) do ids[#ids + 1] = string.sub(cands[k], 29) end
  local part = redis.call('HMGET', K_PACK, unpack(ids))
  for k = 1, #ids do recs[i + k - 1] = part[k] end
end
for ci, m in ipairs(cands) do
  if n >= limit then break end
  local ra = tonumber(string.sub(m, 12, 28))
  if ra <= NOW then
    local id = string.sub(m, 29)
    local jk = JP .. id
    taken[#taken + 1] = m
    local rec = recs[ci]
    -- A job with a record and a hash was claimed before: its hash says what it is now.
    if rec and redis.call('EXISTS', jk) == 1 then rec = nil end
    local h
    local task, at, st, pd = '', '0', nil, nil
    if rec then
      -- A packed job is waiting, never attempted, without parents to wait for. Its record
      -- stays (see jkey in the prelude); its new hash gets the claim's fields and the two
      -- finish reads.
      local ca
      task, ca = rec_head(rec)
      if task then
        st = 'waiting'
        h = {'rec', rec}
        redis.call('HSET', jk, 't', task, 'ca', ca, 'st', 'active', 'at', '1', 'lt', token .. id, 'le', le, 'sa', now, 'w', ARGV[10])
      else
        task = ''
        redis.log(redis.LOG_WARNING, 'asyncmq: job ' .. id .. ' of queue ' .. QNAME .. ' has a malformed record; not claimed')
      end
    else
      h = redis.call('HGETALL', jk)
      for i = 1, #h, 2 do
        local k = h[i]
        if k == 't' then task = h[i + 1] elseif k == 'at' then at = h[i + 1]
        elseif k == 'st' then st = h[i + 1] elseif k == 'pd' then pd = h[i + 1] end
      end
    end
    -- A member whose job is no longer claimable (an index entry left behind) is dropped.
    if st == 'waiting' and not pd then
      n = n + 1
      if not rec then
        redis.call('HSET', jk, 'st', 'active', 'at', NEXT_ATTEMPT[at] or (tonumber(at) + 1), 'lt', token .. id, 'le', le, 'sa', now, 'w', ARGV[10])
      end
      zset_once(SKEY.waiting, id, false)
      zset_once(K_LEASE, id, le)
      metric(task, 's', 1, 'ws', (NOW - ra) * 1000)
      event('job:started', id, task, 'active', '')
      out[#out + 1] = id
      out[#out + 1] = h
    end
  end
end
for i = 1, #taken, 1000 do redis.call('ZREM', K_READY, unpack(taken, i, math.min(i + 999, #taken))) end
if rl > 0 and n > 0 then
  redis.call('HSET', K_META, 'rs', fmt(rs or NOW), 'rc', rc + n)
end
done()
return out
