-- The enqueue scripts' part of the prelude (enqueue and fire): the other scripts do not pay
-- for making its functions on every call.

-- Enqueue: each job is 8 arguments starting at base: ID, task, payload, priority, max retries,
-- run-at, created-at, and its optional fields as one argument, '' when it has none (most jobs):
-- for each field, a one-letter code (OPT_CODES), the value's length in bytes, ':' and the value.
-- Fewer arguments per job: Redis turns every argument into a Lua string before the script runs.
local NF = 8
local OPT_CODES = {b = 'bo', t = 'to', k = 'uk', u = 'uu', d = 'dep', r = 'rep', o = 'op', h = 'hd'}
local NO_OPTS, OPTS = {}, {}
-- opts returns the optional fields of the job at b by hash field name, decoded once.
local function opts(b)
  local s = ARGV[b + 7]
  if s == '' then return NO_OPTS end
  local o = OPTS[b]
  if o then return o end
  o = {}
  local i = 1
  while i <= #s do
    local c = string.find(s, ':', i + 1, true)
    local n = tonumber(string.sub(s, i + 1, c - 1))
    o[OPT_CODES[string.sub(s, i, i)]] = string.sub(s, c + 1, c + n)
    i = c + n + 1
  end
  OPTS[b] = o
  return o
end
-- WRITTEN holds the IDs this script call has stored: one call carries the Enqueue calls of many
-- producers, and the ID index is written only by done(), so a later group with the same ID must
-- find it here to get the same 'exists' as a later call would.
local WRITTEN = {}
-- HASHED holds the IDs of the call's jobs a child named before they were written (see
-- enqueue_write).
local HASHED = {}
-- TAKEN, when set (by enqueue_prefetch), holds the IDs of the call's jobs that the ID index held
-- when the script began: one HMGET for every group instead of one per group.
local TAKEN
local function enqueue_prefetch(ids)
  TAKEN = {}
  for i = 1, #ids, 1000 do
    local part = {unpack(ids, i, math.min(i + 999, #ids))}
    local q = redis.call('HMGET', K_JOBQ, unpack(part))
    for k = 1, #part do
      if q[k] then TAKEN[part[k]] = true end
    end
  end
end
local function enqueue_check(base, n, batch)
  local ukeys
  for i = 0, n - 1 do
    local id = ARGV[base + i * NF]
    if WRITTEN[id] then return {'exists', id} end
    if TAKEN and TAKEN[id] then return {'exists', id} end
  end
  if GLOBAL and not TAKEN then
    local ids = {}
    for i = 0, n - 1 do ids[#ids + 1] = ARGV[base + i * NF] end
    local taken = redis.call('HMGET', K_JOBQ, unpack(ids))
    for i, q in ipairs(taken) do
      if q then return {'exists', ids[i]} end
    end
  end
  for i = 0, n - 1 do
    local b = base + i * NF
    local id = ARGV[b]
    if not GLOBAL and job_exists(id) then
      return {'exists', id}
    end
    local o = opts(b)
    local uk = o.uk
    if uk then
      if not ukeys then ukeys = {} end
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
    local deps = o.dep
    if deps then
      for p in string.gmatch(deps, '[^' .. SEP .. ']+') do
        if not batch[p] and not job_exists(p) then return {'noparent', p} end
      end
    end
  end
  return nil
end

-- The ready member's priority and run-at text, kept between jobs that share both.
local RM_PR, RM_RA, RM_HEAD
-- rmember_head is rmember(pr, ras, ''), built from the run-at's text when it is a positive
-- integer exact in a double (below 2^53, as micros sends it), and the priority's part kept
-- between jobs: each job of a call has its own run-at, and formatting two numbers costs more
-- than the rest of the job's Lua.
local RMP_PR, RMP_TEXT
local function rmember_head(pr, ras)
  if #ras > 16 or (#ras == 16 and ras >= '9007199254740992') or not string.find(ras, '^[1-9]%d*$') then
    return rmember(pr, ras, '')
  end
  if pr ~= RMP_PR then
    local p = math.min(math.max(tonumber(pr), -2147483648), 2147483647) + 2147483648
    RMP_PR, RMP_TEXT = pr, string.format('%011d', p)
  end
  return RMP_TEXT .. string.rep('0', 17 - #ras) .. ras
end
-- enqueue_write stores n checked jobs and appends to stored, when given, what each was stored as
-- in their order: its number of pending parents when waiting-children, 0 when waiting, -1 when
-- delayed.
local function enqueue_write(base, n, batch, stored)
  for i = 0, n - 1 do
    local b = base + i * NF
    local id = ARGV[b]
    local jk = JP .. id
    WRITTEN[id] = true
    -- Times stay text when the client gave them: converting back costs more than the write.
    local ras, cas = ARGV[b + 5], ARGV[b + 6]
    local o = opts(b)
    if ras == '0' then ras = nows() end
    if cas == '0' then cas = nows() end
    local ra = tonumber(ras)
    local pd = 0
    local deps = o.dep
    if deps then
      if not HC_SET then
        redis.call('HSET', K_META, 'hc', '1')
        HC_SET = true
      end
      for p in string.gmatch(deps, '[^' .. SEP .. ']+') do
        local pk = jkey(p)
        -- A parent later in the call gets its hash here, with 'ch': it is then not packed.
        if batch[p] and not WRITTEN[p] then HASHED[p] = true end
        if batch[p] or redis.call('HGET', pk, 'st') ~= 'completed' then pd = pd + 1 end
        local ch = redis.call('HGET', pk, 'ch')
        redis.call('HSET', pk, 'ch', ch and (ch .. SEP .. id) or id)
      end
    end
    local st = ra > NOW and 'delayed' or 'waiting'
    if pd > 0 then st = 'waiting-children' end
    local pr = ARGV[b + 3]
    local f = {'t', ARGV[b + 1], 'st', st, 'pr', pr, 'mr', ARGV[b + 4], 'ra', ras, 'ca', cas}
    if ARGV[b + 2] ~= '' then f[13] = 'p'; f[14] = ARGV[b + 2] end
    for k, v in pairs(o) do f[#f + 1] = k; f[#f + 1] = v end
    if pd > 0 then f[#f + 1] = 'pd'; f[#f + 1] = pd end
    if st == 'waiting' and not o.uk and not HASHED[id] then
      -- Packed (record.go): 't' and 'ca' first, for rec_head.
      local r = {'t', f[2], 'ca', cas, 'st', st, 'pr', pr, 'mr', f[8], 'ra', ras}
      for i = 13, #f do r[i] = f[i] end
      redis.call('HSET', K_PACK, id, cmsgpack.pack(r))
    else
      redis.call('HSET', jk, unpack(f))
    end
    if st == 'waiting' and pr == LANE_PR_TEXT and ras == cas and ra > 0 then
      -- One of the lane's (lane.go): its created-at orders it as its ready member would.
      zset(K_LANE, id, cas)
      woke = true
    else
      zset(SKEY[st], id, cas)
      if st == 'delayed' then
        zset(K_DUE, id, ras)
      elseif st == 'waiting' then
        if pr ~= RM_PR or ras ~= RM_RA then
          RM_HEAD = rmember_head(pr, ras)
          RM_PR, RM_RA = pr, ras
        end
        zset(K_READY, RM_HEAD .. id, 0)
        woke = true
      end
    end
    if o.uk then redis.call('HSET', K_UNIQ, o.uk, id) end
    if GLOBAL then
      JOBQ[#JOBQ + 1] = id
      JOBQ[#JOBQ + 1] = QNAME
    end
    event('job:enqueued', id, ARGV[b + 1], st, '')
    if stored then stored[#stored + 1] = pd > 0 and pd or (st == 'delayed' and -1 or 0) end
  end
end

-- batch_ids returns the set of IDs of a group, which its jobs' parents may name; a group none of
-- whose jobs has optional fields names no parents and gets an empty set.
local NO_BATCH = {}
local function batch_ids(base, n)
  local plain = true
  for i = 0, n - 1 do
    if ARGV[base + i * NF + 7] ~= '' then plain = false; break end
  end
  if plain then return NO_BATCH end
  local batch = {}
  for i = 0, n - 1 do batch[ARGV[base + i * NF]] = true end
  return batch
end
