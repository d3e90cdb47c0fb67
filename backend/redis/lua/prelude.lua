-- Shared head of every per-queue script. The first KEYS are the queue's fixed keys, all carrying
-- the queue's hash tag; ARGV[1..7] are the common arguments. Job hashes and per-minute metric
-- hashes are named from ARGV[1] and ARGV[4], which carry the same hash tag, so every key a script
-- touches is in the queue's slot.
local K_META, K_READY = KEYS[1], KEYS[2]
local SKEY = {waiting = KEYS[3], active = KEYS[4], delayed = KEYS[5], completed = KEYS[6], failed = KEYS[7], cancelled = KEYS[8]}
local K_DUE, K_LEASE = KEYS[9], KEYS[10]
local FKEY = {completed = KEYS[11], failed = KEYS[12], cancelled = KEYS[13]}
local K_UNIQ, K_EV, K_MI, K_JOBQ, K_QUEUES, K_ALLQ = KEYS[14], KEYS[15], KEYS[16], KEYS[17], KEYS[18], KEYS[19]
local K_RIDS, K_RDUE = KEYS[20], KEYS[21]
local JP, QNAME, MP, WAKE, EVMAX = ARGV[1], ARGV[2], ARGV[4], ARGV[5], ARGV[6]
local GLOBAL = ARGV[7] == '1'
local TERMINAL = {completed = true, failed = true, cancelled = true}
local SEP = '\031'

local NOW
if ARGV[3] == '0' then
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  NOW = tonumber(ARGV[3])
end

local function fmt(n) return string.format('%.0f', n) end

-- rmember is a job's member in the ready set: every member has score 0, so the set orders them
-- by priority, then run-at, then ID, as fixed-width text.
local function rmember(pr, ra, id)
  local p = math.min(math.max(tonumber(pr), -2147483648), 2147483647) + 2147483648
  return string.format('%011.0f%017.0f', p, math.max(tonumber(ra), 0)) .. id
end

local woke = false
local function ready(id, pr, ra)
  redis.call('ZADD', K_READY, 0, rmember(pr, ra, id))
  woke = true
end

local function wake()
  if woke then redis.call('SPUBLISH', WAKE, '1') end
end


local function event(typ, id, task, state, detail)
  redis.call('XADD', K_EV, 'MAXLEN', '~', EVMAX, '*', 't', typ, 'q', QNAME, 'j', id or '', 'k', task or '', 's', state or '', 'a', fmt(NOW), 'd', detail or '')
end

-- metric adds counters to the bucket of NOW's minute. Counters are summed in the script and
-- written by flush_metrics, one HINCRBY per counter and minute whatever the number of jobs.
local MET = {}
local function metric(...)
  local minute = NOW - (NOW % 60000000)
  local m = MET[minute]
  if not m then m = {}; MET[minute] = m end
  local f = {...}
  for i = 1, #f, 2 do m[f[i]] = (m[f[i]] or 0) + tonumber(f[i + 1]) end
end

-- flush_metrics writes the summed counters; buckets expire after eight days.
local function flush_metrics()
  for minute, m in pairs(MET) do
    local key = MP .. fmt(minute)
    if redis.call('EXISTS', key) == 0 then
      redis.call('ZADD', K_MI, minute, fmt(minute))
      redis.call('EXPIRE', key, 691200)
      redis.call('ZREMRANGEBYRANK', K_MI, 0, -11521)
    end
    for k, v in pairs(m) do redis.call('HINCRBY', key, k, fmt(v)) end
  end
end

local function move(id, from, to, ca)
  if from then redis.call('ZREM', SKEY[from], id) end
  redis.call('ZADD', SKEY[to], ca, id)
end

-- release_children counts one completed parent off each child's pending dependencies.
local function release_children(jk)
  local ch = redis.call('HGET', jk, 'ch')
  if not ch then return end
  for cid in string.gmatch(ch, '[^' .. SEP .. ']+') do
    local ck = JP .. cid
    local v = redis.call('HMGET', ck, 'pd', 'st', 'pr', 'ra')
    if v[1] then
      local pd = tonumber(v[1]) - 1
      if pd <= 0 then
        redis.call('HDEL', ck, 'pd')
        if v[2] == 'waiting' then ready(cid, v[3], v[4]) end
      else
        redis.call('HSET', ck, 'pd', pd)
      end
    end
  end
end

local DELETED = {}
-- deljob removes a job and every index entry it has.
local function deljob(id)
  local jk = JP .. id
  local v = redis.call('HMGET', jk, 'st', 'pr', 'ra', 'uk')
  if not v[1] then return end
  redis.call('ZREM', SKEY[v[1]], id)
  if v[1] == 'waiting' then redis.call('ZREM', K_READY, rmember(v[2], v[3], id)) end
  if v[1] == 'delayed' then redis.call('ZREM', K_DUE, id) end
  if v[1] == 'active' then redis.call('ZREM', K_LEASE, id) end
  if FKEY[v[1]] then redis.call('ZREM', FKEY[v[1]], id) end
  if v[4] and redis.call('HGET', K_UNIQ, v[4]) == id then redis.call('HDEL', K_UNIQ, v[4]) end
  redis.call('DEL', jk)
  if GLOBAL then redis.call('HDEL', K_JOBQ, id) end
  DELETED[#DELETED + 1] = id
end

local function known()
  if redis.call('HSETNX', K_META, 'k', '1') == 1 then
    if GLOBAL then
      redis.call('SADD', K_QUEUES, QNAME)
      redis.call('SADD', K_ALLQ, QNAME)
    end
    return 1
  end
  return 0
end

-- append_error adds an attempt error to the job's history; tail is the JSON of the error's
-- message, stack and panic flag, encoded by the client.
local function append_error(jk, attempt, at, tail)
  local obj = '{"attempt":' .. attempt .. ',"at":' .. fmt(at) .. ',' .. tail .. '}'
  local er = redis.call('HGET', jk, 'er')
  if er then er = string.sub(er, 1, -2) .. ',' .. obj .. ']' else er = '[' .. obj .. ']' end
  redis.call('HSET', jk, 'er', er)
end

-- Enqueue: each job is 13 arguments starting at base.
local NF = 13
local function enqueue_check(base, n, batch)
  local ukeys = {}
  for i = 0, n - 1 do
    local b = base + i * NF
    local id = ARGV[b]
    if (GLOBAL and redis.call('HEXISTS', K_JOBQ, id) == 1) or (not GLOBAL and redis.call('EXISTS', JP .. id) == 1) then
      return {'exists', id}
    end
    local uk = ARGV[b + 9]
    if uk ~= '' then
      if ukeys[uk] then return {'dup', id} end
      ukeys[uk] = true
      local holder = redis.call('HGET', K_UNIQ, uk)
      if holder then
        local h = redis.call('HMGET', JP .. holder, 'st', 'uu')
        if h[1] and ((h[2] and tonumber(h[2]) > NOW) or (not h[2] and not TERMINAL[h[1]])) then
          return {'dup', id}
        end
      end
    end
    local deps = ARGV[b + 11]
    if deps ~= '' then
      for p in string.gmatch(deps, '[^' .. SEP .. ']+') do
        if not batch[p] and redis.call('EXISTS', JP .. p) == 0 then return {'noparent', p} end
      end
    end
  end
  return nil
end

local function enqueue_write(base, n, batch)
  for i = 0, n - 1 do
    local b = base + i * NF
    local id = ARGV[b]
    local jk = JP .. id
    local ra = ARGV[b + 7] == '0' and NOW or tonumber(ARGV[b + 7])
    local ca = ARGV[b + 8] == '0' and NOW or tonumber(ARGV[b + 8])
    local pd = 0
    local deps = ARGV[b + 11]
    if deps ~= '' then
      for p in string.gmatch(deps, '[^' .. SEP .. ']+') do
        local pk = JP .. p
        if batch[p] or redis.call('HGET', pk, 'st') ~= 'completed' then pd = pd + 1 end
        local ch = redis.call('HGET', pk, 'ch')
        redis.call('HSET', pk, 'ch', ch and (ch .. SEP .. id) or id)
      end
    end
    local st = ra > NOW and 'delayed' or 'waiting'
    local f = {'t', ARGV[b + 1], 'st', st, 'pr', ARGV[b + 3], 'mr', ARGV[b + 4], 'ra', fmt(ra), 'ca', fmt(ca)}
    local opt = {{'p', 2}, {'bo', 5}, {'to', 6}, {'uk', 9}, {'uu', 10}, {'dep', 11}, {'rep', 12}}
    for _, o in ipairs(opt) do
      local v = ARGV[b + o[2]]
      if v ~= '' then f[#f + 1] = o[1]; f[#f + 1] = v end
    end
    if pd > 0 then f[#f + 1] = 'pd'; f[#f + 1] = pd end
    redis.call('HSET', jk, unpack(f))
    redis.call('ZADD', SKEY[st], ca, id)
    if st == 'delayed' then
      redis.call('ZADD', K_DUE, ra, id)
    elseif pd == 0 then
      ready(id, ARGV[b + 3], ra)
    end
    if ARGV[b + 9] ~= '' then redis.call('HSET', K_UNIQ, ARGV[b + 9], id) end
    if GLOBAL then redis.call('HSET', K_JOBQ, id, QNAME) end
    event('job:enqueued', id, ARGV[b + 1], st, '')
  end
end

local function batch_ids(base, n)
  local batch = {}
  for i = 0, n - 1 do batch[ARGV[base + i * NF]] = true end
  return batch
end
