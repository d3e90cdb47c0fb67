-- Shared head of every per-queue script. The first KEYS are the queue's fixed keys, all carrying
-- the queue's hash tag; ARGV[1..7] are the common arguments. Job hashes and per-minute metric
-- hashes are named from ARGV[1] and ARGV[4], which carry the same hash tag, so every key a script
-- touches is in the queue's slot.
local K_META, K_READY, SKEY, K_DUE, K_LEASE, FKEY
local K_UNIQ, K_EV, K_MI, K_JOBQ, K_QUEUES, K_ALLQ, K_RIDS, K_RDUE
-- Packed jobs (record.go): a waiting job never changed since it was stored is a record in K_PACK
-- in place of its hash. jkey gives it its hash before anything reads or changes it.
local K_PACK
-- The lane (lane.go): waiting jobs of priority LANE_PR (lanePriority) due at their creation, by
-- created-at, in place of their members in the ready set and s:waiting.
local K_LANE
local LANE_PR, LANE_PR_TEXT = 5, '5'
-- NQKEYS is how many KEYS name the queue's keys (keys.go); a script's own keys follow them.
local NQKEYS = 24
-- Active jobs are listed and counted from the lease set: a second set of them by created-at cost
-- two sorted-set writes per job for listings of a few hundred jobs. KEYS[4] (s:active) is only
-- deleted, with the queue, for data written before.
local K_OLD_ACTIVE
local JP, QNAME, MP, WAKE, EVMAX, GLOBAL
local TERMINAL = {completed = true, failed = true, cancelled = true}
local SEP = '\031'
local NOW
-- DIRTY: a function's call has begun and not reached done(); begin_state is defined last.
local DIRTY, begin_state = false, nil

-- begin_call sets what the call's KEYS and ARGV name, and NOW. A script (EVAL) runs it right
-- after the prelude; a function (FCALL, scripts.go) at the start of each call, as the library's
-- top level runs only once, when it is loaded.
local function begin_call()
  K_META, K_READY = KEYS[1], KEYS[2]
  K_DUE, K_LEASE = KEYS[9], KEYS[10]
  SKEY = {waiting = KEYS[3], active = K_LEASE, delayed = KEYS[5], completed = KEYS[6], failed = KEYS[7],
    cancelled = KEYS[8], ['waiting-children'] = KEYS[22]}
  FKEY = {completed = KEYS[11], failed = KEYS[12], cancelled = KEYS[13]}
  K_UNIQ, K_EV, K_MI, K_JOBQ, K_QUEUES, K_ALLQ = KEYS[14], KEYS[15], KEYS[16], KEYS[17], KEYS[18], KEYS[19]
  K_RIDS, K_RDUE, K_PACK, K_OLD_ACTIVE, K_LANE = KEYS[20], KEYS[21], KEYS[23], KEYS[4], KEYS[24]
  JP, QNAME, MP, WAKE, EVMAX = ARGV[1], ARGV[2], ARGV[4], ARGV[5], ARGV[6]
  GLOBAL = ARGV[7] == '1'
  if ARGV[3] == '0' then
    local t = redis.call('TIME')
    NOW = tonumber(t[1]) * 1000000 + tonumber(t[2])
  else
    NOW = tonumber(ARGV[3])
  end
end

-- fmt writes a whole number (every number the scripts write is one: microseconds, counts) as
-- an integer: '%d' is a plain integer conversion, where '%.0f' runs the floating-point printer,
-- several times the cost.
local function fmt(n) return string.format('%d', n) end

-- A record is a MessagePack array of strings, field then value, starting with 't' and 'ca'
-- (record.go). rec_head reads those two without decoding the rest, as a claim needs only them;
-- it returns nil for a head it cannot read, and the claim then takes the job out of the ready set
-- (the job stays, waiting, for an operator to remove) rather than fail half-way through its
-- writes. A record whose head reads but whose body does not is caught by the client, which
-- fails the job (failUnreadable in claim.go).
local function mp_str(s, i)
  local c = string.byte(s, i)
  if not c then return nil end
  local n, h
  if c >= 0xa0 and c <= 0xbf then
    n, h = c - 0xa0, 1
  elseif c == 0xd9 or c == 0xc4 then
    n, h = string.byte(s, i + 1), 2
  elseif c == 0xda or c == 0xc5 then
    local a, b = string.byte(s, i + 1, i + 2)
    if not b then return nil end
    n, h = a * 256 + b, 3
  elseif c == 0xdb or c == 0xc6 then
    local a, b, x, y = string.byte(s, i + 1, i + 4)
    if not y then return nil end
    n, h = ((a * 256 + b) * 256 + x) * 256 + y, 5
  else
    return nil
  end
  if not n or i + h + n - 1 > #s then return nil end
  return string.sub(s, i + h, i + h + n - 1), i + h + n
end
local function rec_head(rec)
  -- Nearly every record starts with a fixarray header, 't' and a task under 32 bytes, then 'ca'
  -- and its value under 32 bytes: these are read with two string.byte calls.
  local c, f1, f2, tl = string.byte(rec, 1, 4)
  if c and c >= 0x94 and c <= 0x9f and f1 == 0xa1 and f2 == 116 and tl and tl >= 0xa0 and tl <= 0xbf then
    local te = 4 + tl - 0xa0
    local g1, g2, g3, cl = string.byte(rec, te + 1, te + 4)
    if g1 == 0xa2 and g2 == 99 and g3 == 97 and cl and cl >= 0xa0 and cl <= 0xbf and te + 4 + cl - 0xa0 <= #rec then
      local ca = string.sub(rec, te + 5, te + 4 + cl - 0xa0)
      if not string.find(ca, '^%d+$') then return nil end
      return string.sub(rec, 5, te), ca
    end
  end
  local i
  if not c then return nil end
  if c >= 0x94 and c <= 0x9f then i = 2 elseif c == 0xdc then i = 4 elseif c == 0xdd then i = 6 else return nil end
  -- The field names, as MessagePack strings: 0xa1 't' and 0xa2 'ca'.
  if string.sub(rec, i, i + 1) ~= '\161t' then return nil end
  local task, j = mp_str(rec, i + 2)
  if not task or string.sub(rec, j, j + 2) ~= '\162ca' then return nil end
  local ca = mp_str(rec, j + 3)
  -- Created-at becomes a sorted-set score when the job ends: text that is not a number there
  -- would fail the finish of every job of the call.
  if not ca or not string.find(ca, '^%d+$') then return nil end
  return task, ca
end

-- rec_fields decodes a record into its field-value list, or returns nil (and logs) for one it
-- cannot read: only a bug or a hand edit makes one, and it must not fail every script that
-- reaches the job.
local function rec_fields(id, rec)
  local ok, f = pcall(cmsgpack.unpack, rec)
  if ok and type(f) == 'table' and #f % 2 == 0 then return f end
  redis.log(redis.LOG_WARNING, 'asyncmq: job ' .. id .. ' of queue ' .. QNAME .. ' has a malformed record')
  return nil
end

-- jkey returns the key of job id's hash after moving into it what the job's packed record holds
-- that the hash does not: a packed job waiting has only its record; a claim then gives it a hash
-- of the fields it sets and the two finish reads, and the record stays, its other fields counting
-- where the hash lacks them (as decodeJob reads them). The hot paths (claim, finish, extend,
-- progress) read only fields the hash has; every other script reaching a job that may have a
-- record calls jkey first.
local function jkey(id)
  local jk = JP .. id
  local rec = redis.call('HGET', K_PACK, id)
  local f = rec and rec_fields(id, rec)
  if f then
    if redis.call('EXISTS', jk) == 1 then
      local have = {}
      for _, k in ipairs(redis.call('HKEYS', jk)) do have[k] = true end
      local add = {}
      for i = 1, #f, 2 do
        if not have[f[i]] then
          add[#add + 1] = f[i]
          add[#add + 1] = f[i + 1]
        end
      end
      f = add
    end
    if #f > 0 then redis.call('HSET', jk, unpack(f)) end
    redis.call('HDEL', K_PACK, id)
  end
  -- A malformed record stays where it is: deljob still deletes the job.
  return jk
end

-- job_exists reports whether job id is stored, packed or not.
local function job_exists(id)
  return redis.call('EXISTS', JP .. id) == 1 or redis.call('HEXISTS', K_PACK, id) == 1
end

-- rmember is a job's member in the ready set: every member has score 0, so the set orders them
-- by priority, then run-at, then ID, as fixed-width text. A job whose fields are missing (its
-- record could not be read) sorts as priority 0, due now, rather than fail the script and every
-- other job of its call.
local function rmember(pr, ra, id)
  local p = math.min(math.max(tonumber(pr) or 0, -2147483648), 2147483647) + 2147483648
  return string.format('%011d%017d', p, math.max(tonumber(ra) or NOW, 0)) .. id
end

-- Sorted-set writes are gathered per key and member (the last write of a member wins, as if
-- applied in order) and flushed by done() as one variadic ZREM and ZADD per key: each
-- redis.call costs a few microseconds of its own, more than the write it makes. Scripts never
-- read an index they have written before done().
local ZOPS, ZKEYS = {}, {}
local function zkey(key)
  local t = ZOPS[key]
  if not t then
    t = {}
    ZOPS[key] = t
    ZKEYS[#ZKEYS + 1] = key
  end
  return t
end
local function zset(key, member, score)
  zkey(key)[member] = score
end

-- zadds and zrems return lists that flush_z also writes to key, for a script that writes many
-- members of one set once each (claim and finish do, for the jobs they move): it appends to them
-- itself, score then member, or member, rather than keying a table by member as zset does.
local ZADD1, ZREM1 = {}, {}
local function zadds(key)
  zkey(key)
  local t = ZADD1[key]
  if not t then t = {}; ZADD1[key] = t end
  return t
end
local function zrems(key)
  zkey(key)
  local t = ZREM1[key]
  if not t then t = {}; ZREM1[key] = t end
  return t
end

local function flush_z()
  for _, key in ipairs(ZKEYS) do
    local adds, rems = ZADD1[key] or {}, ZREM1[key] or {}
    for m, sc in pairs(ZOPS[key]) do
      if sc then
        adds[#adds + 1] = sc
        adds[#adds + 1] = m
      else
        rems[#rems + 1] = m
      end
    end
    for i = 1, #rems, 1000 do redis.call('ZREM', key, unpack(rems, i, math.min(i + 999, #rems))) end
    for i = 1, #adds, 2000 do redis.call('ZADD', key, unpack(adds, i, math.min(i + 1999, #adds))) end
  end
  ZOPS, ZKEYS, ZADD1, ZREM1 = {}, {}, {}, {}
end

local woke = false
local function ready(id, pr, ra)
  zset(K_READY, rmember(pr, ra, id), 0)
  woke = true
end


-- NOW's text is kept (by nows) until NOW changes: formatting a number costs more than the rest
-- of a job's Lua. set_now sets NOW from a client's text, which is the text itself.
local NOW_AT, NOW_TEXT
local function nows()
  if NOW_AT ~= NOW then NOW_AT, NOW_TEXT = NOW, fmt(NOW) end
  return NOW_TEXT
end
local function set_now(text)
  NOW = tonumber(text)
  NOW_AT, NOW_TEXT = NOW, text
end

-- Events are gathered by event() and written by flush_events() (from done()) as few stream
-- entries as possible: one XADD per script call instead of one per job, which was a third of the
-- Redis time of a job's life. An entry of one event keeps the fields t q j k s a d; an entry of
-- several has 'n' (how many), 'q', 'J' (the job IDs joined by SEP), and for each of t k s a d
-- either the lowercase field (every event shares the value) or the uppercase one (the values
-- joined by SEP). An event whose ID, task or detail holds SEP gets an entry of its own.
--
-- The job ID and task of each event are kept in EV_J and EV_K. Its type, state, time and detail
-- are nearly always those of the event before (a claim's events share all four), so they are
-- kept as runs: run r starts at event R_AT[r], and its events have R_T[r], R_S[r], R_A[r] and
-- R_D[r]. An event then costs two table slots, not six, and an entry of one run writes those
-- four fields without comparing its events' values.
local EV_J, EV_K, EVN = {}, {}, 0
local R_AT, R_T, R_S, R_A, R_D = {}, {}, {}, {}, {}
local LT, LS, LA, LD
local EV_ENTRIES = 0
local function event(typ, id, task, state, detail)
  EVN = EVN + 1
  EV_J[EVN], EV_K[EVN] = id or '', task or ''
  local a = nows()
  state, detail = state or '', detail or ''
  if typ ~= LT or state ~= LS or a ~= LA or detail ~= LD then
    local r = #R_AT + 1
    R_AT[r], R_T[r], R_S[r], R_A[r], R_D[r] = EVN, typ, state, a, detail
    LT, LS, LA, LD = typ, state, a, detail
  end
end

-- RK is the run run_of found last; run_of(i) returns the run of event i, from RK on when i is
-- not before it (the writes read events in order), else from the first run.
local RK = 1
local function run_of(i)
  if R_AT[RK] > i then RK = 1 end
  while R_AT[RK + 1] and R_AT[RK + 1] <= i do RK = RK + 1 end
  return RK
end

-- ev_field appends the field of list over list[from..to]: shared (name) or joined (NAME).
local function ev_field(f, name, list, from, to)
  local v = list[from]
  for i = from + 1, to do
    if list[i] ~= v then
      f[#f + 1] = string.upper(name)
      f[#f + 1] = table.concat(list, SEP, from, to)
      return
    end
  end
  f[#f + 1] = name
  f[#f + 1] = v
end

-- EV_PER_ENTRY caps the events of one stream entry: a reader paging through the events of an
-- entry decodes it whole for each page, so a bulk enqueue of 100,000 jobs must not become one
-- entry.
local EV_PER_ENTRY = 256

local function ev_entry(from, to)
  EV_ENTRIES = EV_ENTRIES + 1
  local k = run_of(from)
  if from == to then
    redis.call('XADD', K_EV, '*', 't', R_T[k], 'q', QNAME, 'j', EV_J[from], 'k', EV_K[from], 's', R_S[k], 'a', R_A[k], 'd', R_D[k])
    return
  end
  local f = {'n', to - from + 1, 'q', QNAME, 'J', table.concat(EV_J, SEP, from, to)}
  local nxt = R_AT[k + 1]
  if not nxt or nxt > to then
    -- One run: t, s, a and d are shared.
    f[7], f[8] = 't', R_T[k]
    ev_field(f, 'k', EV_K, from, to)
    f[#f + 1] = 's'; f[#f + 1] = R_S[k]
    f[#f + 1] = 'a'; f[#f + 1] = R_A[k]
    f[#f + 1] = 'd'; f[#f + 1] = R_D[k]
  else
    local T, S, A, D = {}, {}, {}, {}
    for i = from, to do
      local r, n = run_of(i), i - from + 1
      T[n], S[n], A[n], D[n] = R_T[r], R_S[r], R_A[r], R_D[r]
    end
    local n = to - from + 1
    ev_field(f, 't', T, 1, n)
    ev_field(f, 'k', EV_K, from, to)
    ev_field(f, 's', S, 1, n)
    ev_field(f, 'a', A, 1, n)
    ev_field(f, 'd', D, 1, n)
  end
  redis.call('XADD', K_EV, '*', unpack(f))
end

local function ev_write(from, to)
  while from <= to do
    local last = math.min(to, from + EV_PER_ENTRY - 1)
    ev_entry(from, last)
    from = last + 1
  end
end

-- ev_count returns the number of events of a stream entry's fields.
local function ev_count(f)
  for k = 1, #f, 2 do
    if f[k] == 'n' then return tonumber(f[k + 1]) or 1 end
  end
  return 1
end

-- ev_trim keeps the stream near EVMAX events. The counter beside the stream (key suffix :n)
-- holds how many events the stream has; while it is over EVMAX by more than a tenth, a call cuts
-- the oldest entries, 32 at a time (an entry holds at most EV_PER_ENTRY events, so a cut reads
-- a bounded amount), until it is back at EVMAX or it has cut as many entries as it added events
-- (at least 32). Every entry holds one event or more, so a stream over its bound never grows,
-- and a call's work stays in proportion to its own. A read that reaches the stream's end has
-- seen every entry: the counter is then set to their sum, which corrects a counter that drifted
-- (the stream deleted or trimmed by hand, or by a process of an older version). A missing
-- counter starts from the stream's length, one event per entry as entries written before
-- batching held.
-- ev_cut is the cutting part of ev_trim, for a counter c that already counts the added events.
local function ev_cut(c, added)
  local ck = K_EV .. ':n'
  local max = tonumber(EVMAX)
  if c <= max + math.max(math.floor(max / 10), 1) then return end
  local budget = math.max(32, added)
  while budget > 0 and c > max do
    local old = redis.call('XRANGE', K_EV, '-', '+', 'COUNT', 33)
    local ns, whole = {}, #old < 33
    local total = 0
    for i = 1, #old do
      ns[i] = ev_count(old[i][2])
      total = total + ns[i]
    end
    if whole then
      c = total
      redis.call('SET', ck, c)
    end
    local removed, cut, k = 0, nil, 0
    -- The newest entry read always stays: it may be one this call wrote.
    for i = 1, #old - 1 do
      if c - removed <= max or k >= budget then break end
      removed = removed + ns[i]
      k = k + 1
      cut = old[i + 1][1]
    end
    if not cut then return end
    redis.call('XTRIM', K_EV, 'MINID', cut)
    c = redis.call('DECRBY', ck, removed)
    budget = budget - k
    if whole then return end
  end
end

-- ev_start sets a counter that c == added found missing: it adds the stream's entries other
-- than the entries just written, one event each.
local function ev_start(c, entries)
  local l = redis.call('XLEN', K_EV) - entries
  if l > 0 then c = redis.call('INCRBY', K_EV .. ':n', l) end
  return c
end

local function ev_trim(added, entries)
  local c = redis.call('INCRBY', K_EV .. ':n', added)
  if c == added then c = ev_start(c, entries) end
  ev_cut(c, added)
end

-- sep_free reports whether no ID, task or detail of the gathered events holds SEP: one search
-- of each column's values run together costs less than one search per event.
local function sep_free()
  return not (string.find(table.concat(EV_J), SEP, 1, true)
    or string.find(table.concat(EV_K), SEP, 1, true)
    or string.find(table.concat(R_D), SEP, 1, true))
end

local function flush_events()
  if EVN == 0 then return end
  RK = 1
  local from = 1
  if not sep_free() then
    -- k follows the runs apart from RK, which the writes move on: sharing it, each write would
    -- send it back to the first run.
    local k = 1
    for i = 1, EVN do
      while R_AT[k + 1] and R_AT[k + 1] <= i do k = k + 1 end
      if string.find(EV_J[i], SEP, 1, true) or string.find(EV_K[i], SEP, 1, true) or string.find(R_D[k], SEP, 1, true) then
        ev_write(from, i - 1)
        ev_write(i, i)
        from = i + 1
      end
    end
  end
  ev_write(from, EVN)
  -- Counted after the writes: a new counter reads the stream's length, less the entries added.
  ev_trim(EVN, EV_ENTRIES)
  EV_J, EV_K, EVN, EV_ENTRIES = {}, {}, 0, 0
  R_AT, R_T, R_S, R_A, R_D = {}, {}, {}, {}, {}
  LT, LS, LA, LD = nil, nil, nil, nil
end

-- metric adds up to three counters (name, value) of a task to the bucket of NOW's minute, both
-- the queue's and the task's. Counters are summed in the script, per minute and task, and written
-- by flush_metrics, one HINCRBY per counter, minute (and task) whatever the number of jobs. A
-- job's share is a few table updates: no table or string is made for it.
local MET, TMET = {}, {}
local function metric(task, n1, v1, n2, v2, n3, v3)
  local minute = NOW - (NOW % 60000000)
  local m, tm = MET[minute], TMET[minute]
  if not m then m = {}; MET[minute] = m; tm = {}; TMET[minute] = tm end
  task = task or ''
  local t = tm[task]
  if not t then t = {}; tm[task] = t end
  m[n1] = (m[n1] or 0) + v1
  t[n1] = (t[n1] or 0) + v1
  if n2 then
    m[n2] = (m[n2] or 0) + v2
    t[n2] = (t[n2] or 0) + v2
  end
  if n3 then
    m[n3] = (m[n3] or 0) + v3
    t[n3] = (t[n3] or 0) + v3
  end
end

-- flush_metrics writes the summed counters: the queue's bucket, and beside it (key suffix :t)
-- the per-task bucket whose fields are task SEP counter. Both are written together, so they
-- share the minute index and expire eight days after the minute first counted something
-- (EXPIRE after the first write: on a missing key it would do nothing).
local function flush_metrics()
  for minute, m in pairs(MET) do
    local key = MP .. fmt(minute)
    local new = redis.call('EXISTS', key) == 0
    for k, v in pairs(m) do redis.call('HINCRBY', key, k, fmt(v)) end
    for task, t in pairs(TMET[minute]) do
      for k, v in pairs(t) do redis.call('HINCRBY', key .. ':t', task .. SEP .. k, fmt(v)) end
    end
    if new then
      redis.call('ZADD', K_MI, minute, fmt(minute))
      redis.call('EXPIRE', key, 691200)
      redis.call('EXPIRE', key .. ':t', 691200)
      redis.call('ZREMRANGEBYRANK', K_MI, 0, -11521)
    end
  end
  MET, TMET = {}, {}
end

-- move moves a job between the sets of its states; the lease set, which holds the active ones,
-- is written by the scripts that take and end leases.
local function move(id, from, to, ca)
  if from and from ~= 'active' then zset(SKEY[from], id, false) end
  -- A waiting job may be one of the lane's.
  if from == 'waiting' then zset(K_LANE, id, false) end
  if to ~= 'active' then zset(SKEY[to], id, ca) end
end

-- release_children counts one completed parent off each child's pending dependencies; a child
-- with none left leaves waiting-children for waiting, or delayed before its run-at. (A job
-- blocked before the waiting-children state existed is still waiting, and only becomes ready.)
local function release_children(ch)
  if not ch then return end
  for cid in string.gmatch(ch, '[^' .. SEP .. ']+') do
    local ck = JP .. cid
    local v = redis.call('HMGET', ck, 'pd', 'st', 'pr', 'ra', 'ca')
    if v[1] then
      local pd = tonumber(v[1]) - 1
      if pd <= 0 then
        redis.call('HDEL', ck, 'pd')
        if v[2] == 'waiting' then ready(cid, v[3], v[4]) end
        if v[2] == 'waiting-children' then
          local ra = tonumber(v[4])
          local st = ra > NOW and 'delayed' or 'waiting'
          redis.call('HSET', ck, 'st', st)
          move(cid, 'waiting-children', st, v[5])
          if st == 'delayed' then zset(K_DUE, cid, ra) else ready(cid, v[3], v[4]) end
        end
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
  local rec = redis.call('HGET', K_PACK, id)
  local v = redis.call('HMGET', jk, 'st', 'pr', 'ra', 'uk')
  if rec then
    redis.call('HDEL', K_PACK, id)
    if not v[1] then
      -- A job with only a record is waiting; a malformed record leaves its ready member, which
      -- the next claim drops as it drops any member whose job is gone.
      local h = rec_fields(id, rec) or {}
      v = {'waiting'}
      for i = 1, #h, 2 do
        local k = h[i]
        if k == 'st' then v[1] = h[i + 1] elseif k == 'pr' then v[2] = h[i + 1]
        elseif k == 'ra' then v[3] = h[i + 1] end
      end
    end
  end
  if not v[1] then return end
  zset(SKEY[v[1]], id, false)
  if v[1] == 'waiting' then zset(K_LANE, id, false) end
  if v[1] == 'waiting' and v[2] and v[3] then zset(K_READY, rmember(v[2], v[3], id), false) end
  if v[1] == 'delayed' then zset(K_DUE, id, false) end
  if v[1] == 'active' then zset(K_LEASE, id, false) end
  if FKEY[v[1]] then zset(FKEY[v[1]], id, false) end
  if v[4] and redis.call('HGET', K_UNIQ, v[4]) == id then redis.call('HDEL', K_UNIQ, v[4]) end
  redis.call('DEL', jk)
  if GLOBAL then redis.call('HDEL', K_JOBQ, id) end
  DELETED[#DELETED + 1] = id
end

-- known marks the queue known and returns 1 if it was not. Once per script call: the calls
-- after the first would find the mark set.
local KNOWN = false
local function known()
  if KNOWN then return 0 end
  KNOWN = true
  if redis.call('HSETNX', K_META, 'k', '1') == 1 then
    -- A new queue has no parents written by a version without the 'hc' mark (may_have_children).
    redis.call('HSET', K_META, 'nc', '1')
    if GLOBAL then
      redis.call('SADD', K_QUEUES, QNAME)
      redis.call('SADD', K_ALLQ, QNAME)
    end
    return 1
  end
  return 0
end

-- may_have_children reports whether a job of the queue may list children (its 'ch' field):
-- reading a field a job's hash lacks costs a scan of the whole hash, and most queues never have a
-- child. The queue's meta has 'hc' once a child was enqueued in it, and 'nc' when it was made by a
-- version that sets 'hc'; a queue without 'nc' may hold parents written before, so it is read. A
-- child blocked in the queue also makes it read, whoever wrote it: a process of an earlier
-- version enqueues children without setting 'hc'.
local function may_have_children()
  local m = redis.call('HMGET', K_META, 'nc', 'hc')
  return m[1] ~= '1' or m[2] == '1' or redis.call('ZCARD', SKEY['waiting-children']) > 0
end
local HC_SET = false

-- with_error returns the job's error history er with one more attempt error; tail is the JSON of
-- the error's message, stack and panic flag, encoded by the client.
local function with_error(er, attempt, at, tail)
  local obj = '{"attempt":' .. attempt .. ',"at":' .. fmt(at) .. ',' .. tail .. '}'
  if er then return string.sub(er, 1, -2) .. ',' .. obj .. ']' end
  return '[' .. obj .. ']'
end

-- parent_ended applies the parent-failure policy (field 'op') of the waiting-children jobs of a
-- job that just failed or was cancelled (state st): 'cancel' cancels them, 'wait' leaves them,
-- anything else fails them with an error naming the parent; then the same for the children of
-- the jobs it ended. The parent keeps its children list, so a job left waiting is still released
-- when the parent is retried and completes.
local function parent_ended(id, st)
  local queue = {{id, st}}
  local i = 1
  while queue[i] do
    local pid, pst = queue[i][1], queue[i][2]
    i = i + 1
    local ch = redis.call('HGET', JP .. pid, 'ch')
    if ch then
      local msg = 'parent job ' .. cjson.encode(pid) .. (pst == 'cancelled' and ' was cancelled' or ' failed')
      for cid in string.gmatch(ch, '[^' .. SEP .. ']+') do
        local ck = JP .. cid
        local v = redis.call('HMGET', ck, 'st', 'op', 'ca', 't', 'at', 'er')
        if v[1] == 'waiting-children' and v[2] ~= 'wait' then
          local to = v[2] == 'cancel' and 'cancelled' or 'failed'
          if to == 'failed' then
            redis.call('HSET', ck, 'st', to, 'fa', fmt(NOW), 'er', with_error(v[6], v[5] or '0', NOW, '"error":' .. cjson.encode(msg)))
          else
            redis.call('HSET', ck, 'st', to, 'fa', fmt(NOW))
          end
          move(cid, 'waiting-children', to, v[3])
          zset(FKEY[to], cid, NOW)
          event('job:' .. to, cid, v[4], to, msg)
          queue[#queue + 1] = {cid, to}
        end
      end
    end
  end
end

-- JOBQ gathers ID index entries for one HSET in done().
local JOBQ = {}

-- done ends every script: it flushes the gathered writes and wakes the queue's subscribers when
-- a job became claimable.
local function done()
  flush_z()
  flush_events()
  flush_metrics()
  for i = 1, #JOBQ, 2000 do redis.call('HSET', K_JOBQ, unpack(JOBQ, i, math.min(i + 1999, #JOBQ))) end
  JOBQ = {}
  if woke then redis.call('SPUBLISH', WAKE, '1') end
  woke = false
  DIRTY = false
end

-- begin_state readies a function's call (scripts.go): a function's state lives on from one call
-- to the next. done() leaves the gathered writes empty; a call that failed before it (a command
-- that raised an error) may not have, and its writes are dropped here, as Redis dropped the rest
-- of that call.
begin_state = function()
  if DIRTY then
    ZOPS, ZKEYS, ZADD1, ZREM1 = {}, {}, {}, {}
    EV_J, EV_K, EVN, EV_ENTRIES = {}, {}, 0, 0
    R_AT, R_T, R_S, R_A, R_D = {}, {}, {}, {}, {}
    LT, LS, LA, LD = nil, nil, nil, nil
    MET, TMET, JOBQ = {}, {}, {}
    woke = false
  end
  DIRTY = true
  KNOWN, HC_SET = false, false
  if DELETED[1] then DELETED = {} end
end
