-- claim_jobs takes up to ARGV[a] runnable jobs: ARGV[a] = limit, [a + 1] = lease (µs), [a + 2] =
-- worker ID, [a + 3] = token prefix, [a + 4] = how many members past the limit to look at for
-- jobs whose run-at is still ahead. It returns {NOW, id, fields before the claim, ...}, where the
-- fields are the job's hash as a list or, for a job that had only its packed record, the record
-- itself (a string: a table per job costs more to reply with than the rest of its claim). The
-- client applies the claim's own fields (state, attempt, token, lease, start, worker), which it
-- knows, instead of reading the hash again. The caller ends with done().
-- NEXT_ATTEMPT turns the attempt of the job's hash into the next one without formatting a number,
-- which costs more than the rest of the job's HSET.
local NEXT_ATTEMPT = {[''] = '1', ['0'] = '1', ['1'] = '2', ['2'] = '3', ['3'] = '4', ['4'] = '5', ['5'] = '6', ['6'] = '7',
  ['7'] = '8', ['8'] = '9', ['9'] = '10', ['10'] = '11', ['11'] = '12'}
-- lane_first reports whether the lane's job id, created at sc (text), comes before the ready
-- member of priority p, run-at ra and ID mid.
local function lane_first(sc, id, p, ra, mid)
  if p ~= LANE_PR then return LANE_PR < p end
  local la = tonumber(sc)
  if la ~= ra then return la < ra end
  return bytes_lt(id, mid)
end
local function claim_jobs(a)
  local meta = redis.call('HMGET', K_META, 'pz', 'rl', 'ri', 'rs', 'rc')
  if meta[1] == '1' then return {nows()} end
  local limit = tonumber(ARGV[a])
  local rl = tonumber(meta[2] or '0')
  local rs, rc = nil, 0
  if rl > 0 then
    if meta[4] and NOW < tonumber(meta[4]) + tonumber(meta[3]) then
      rs = tonumber(meta[4]); rc = tonumber(meta[5] or '0')
    end
    limit = math.min(limit, rl - rc)
    if limit <= 0 then return {nows()} end
  end
  local now = nows()
  local out, n = {now}, 0
  local le = fmt(NOW + tonumber(ARGV[a + 1]))
  -- A job's lease token is token .. its ID (see claim.go).
  local token = ARGV[a + 3] .. ':' .. QNAME .. '/'
  local mtask, ms, mws = nil, 0, 0
  -- claimed holds the IDs of jobs this call claimed from their records, so that a second member
  -- of one of them (an index entry left behind) does not claim it again.
  local claimed = {}
  -- The jobs' index writes, appended to zadds' and zrems' lists.
  local lease_adds, waiting_rems = zadds(K_LEASE), zrems(SKEY.waiting)
  -- claim takes the jobs of due members (their IDs ids and run-ats ras) until it has limit of
  -- them.
  local function claim(ids, ras, lane)
    -- Their packed records (record.go), read at once.
    local recs = {}
    for i = 1, #ids, 1000 do
      local part = redis.call('HMGET', K_PACK, unpack(ids, i, math.min(i + 999, #ids)))
      for k = 1, #part do recs[i + k - 1] = part[k] end
    end
    -- A job with a record and a hash was claimed before: its hash says what it is now. Usually
    -- no job with a record has a hash, which one EXISTS of them all tells.
    local hashed = false
    local jkeys, jks = {}, {}
    for i = 1, #ids do
      jkeys[i] = JP .. ids[i]
      if recs[i] then jks[#jks + 1] = jkeys[i] end
    end
    for i = 1, #jks, 1000 do
      if redis.call('EXISTS', unpack(jks, i, math.min(i + 999, #jks))) > 0 then hashed = true end
    end
    for ci = 1, #ids do
      local id, jk = ids[ci], jkeys[ci]
      local rec = recs[ci]
      if rec and (claimed[id] or hashed and redis.call('EXISTS', jk) == 1) then rec = nil end
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
          h = rec
          claimed[id] = true
          redis.call('HSET', jk, 't', task, 'ca', ca, 'st', 'active', 'at', '1', 'lt', token .. id, 'le', le, 'sa', now, 'w', ARGV[a + 2])
        else
          task = ''
          redis.log(redis.LOG_WARNING, 'asyncmq: job ' .. id .. ' of queue ' .. QNAME .. ' has a malformed record; not claimed')
          -- It leaves the lane as it would the ready set, and stays in s:waiting, where counts,
          -- listings and drains find it.
          if lane[ci] then zset(SKEY.waiting, id, fmt(ras[ci])) end
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
          redis.call('HSET', jk, 'st', 'active', 'at', NEXT_ATTEMPT[at] or (tonumber(at) + 1), 'lt', token .. id, 'le', le, 'sa', now, 'w', ARGV[a + 2])
        end
        -- A job of the lane is in neither s:waiting nor the ready set.
        if not lane[ci] then waiting_rems[#waiting_rems + 1] = id end
        lease_adds[#lease_adds + 1] = le
        lease_adds[#lease_adds + 1] = id
        -- The counters go to metric() once per run of jobs of one task, not once per job.
        if task ~= mtask then
          if ms > 0 then metric(mtask, 's', ms, 'ws', mws) end
          mtask, ms, mws = task, 0, 0
        end
        ms, mws = ms + 1, mws + (NOW - ras[ci]) * 1000
        event('job:started', id, task, 'active', '')
        out[#out + 1] = id
        out[#out + 1] = h
      end
    end
  end
  -- The members are read limit at a time, or as many as the jobs still to claim: more are read
  -- only when some of them are not due yet (jobs enqueued by a process whose clock is ahead) or
  -- were dropped, and at most ARGV[a + 4] past the limit. Every due member read leaves the
  -- ready set (taken).
  --
  -- The lane's due jobs (lane.go) are read beside them, as many, and merged in by the member
  -- each would have: priority LANE_PR, its created-at (its run-at), its ID. A lane job after the
  -- last member read waits for the next read, unless the ready set has no more members: one of
  -- them could come first. Every lane job merged leaves the lane (lane_taken), and counts
  -- against the bound as a member read does. Every pass takes a member or a lane job, so the
  -- loop ends within the bound.
  local taken, lane_taken = {}, {}
  local seen, bound = 0, limit + tonumber(ARGV[a + 4])
  -- Both count against the bound: a call reads at most bound members and lane jobs in all.
  while n < limit and seen + #lane_taken < bound do
    local want = math.min(limit - n, bound - seen - #lane_taken)
    local cands = redis.call('ZRANGE', K_READY, seen, seen + want - 1)
    -- Fewer members than asked for: the ready set has no more.
    local rest = #cands < want
    local lc = redis.call('ZRANGE', K_LANE, '-inf', now, 'BYSCORE', 'LIMIT', #lane_taken, want, 'WITHSCORES')
    -- Fewer lane jobs than asked for: the lane has no more due.
    local lrest = #lc < 2 * want
    if #cands == 0 and #lc == 0 then break end
    local ids, ras, lane = {}, {}, {}
    local li = 1
    -- take_lane takes the lane's next job read.
    local function take_lane()
      local id, ra = lc[li], tonumber(lc[li + 1])
      ids[#ids + 1] = id
      ras[#ids] = ra
      lane[#ids] = true
      lane_taken[#lane_taken + 1] = id
      li = li + 2
    end
    for i = 1, #cands do
      if #ids >= want then break end
      local m = cands[i]
      local ra, id = tonumber(string.sub(m, 12, 28)), string.sub(m, 29)
      if li < #lc then
        -- Reading a number of 11 digits costs more than the rest of the member: only when a lane
        -- job may come first.
        local p = tonumber(string.sub(m, 1, 11)) - 2147483648
        while li < #lc and #ids < want and lane_first(lc[li + 1], lc[li], p, ra, id) do take_lane() end
        if #ids >= want then break end
      end
      seen = seen + 1
      if ra <= NOW then
        ids[#ids + 1] = id
        ras[#ids] = ra
        taken[#taken + 1] = m
      end
    end
    if rest then
      while li < #lc and #ids < want do take_lane() end
    end
    claim(ids, ras, lane)
    if rest and lrest and li >= #lc then break end
  end
  if ms > 0 then metric(mtask, 's', ms, 'ws', mws) end
  for i = 1, #taken, 1000 do redis.call('ZREM', K_READY, unpack(taken, i, math.min(i + 999, #taken))) end
  for i = 1, #lane_taken, 1000 do redis.call('ZREM', K_LANE, unpack(lane_taken, i, math.min(i + 999, #lane_taken))) end
  if rl > 0 and n > 0 then
    redis.call('HSET', K_META, 'rs', fmt(rs or NOW), 'rc', rc + n)
  end
  return out
end
