-- finish_jobs records the outcomes of ARGV[from..], each of 10 arguments: ID, token, outcome,
-- result, error tail, error time, error message, retry delay (µs after NOW), duration (ns),
-- duration bucket ('d' and its number); or, for a job completed without a result (most
-- outcomes), of 5: ID, token, 'c', duration, bucket. It returns 'ok' or 'lost' for each. The
-- caller ends with done().
local function finish_jobs(from)
  local out = {}
  local now = nows()
  -- The index writes of the jobs it ends, appended to zadds' and zrems'
  -- lists: the lease set, and per outcome its state's set and its finish-time set.
  local lease_rems = zrems(K_LEASE)
  local sadds, fadds = {}, {}
  local with_children = may_have_children()
  local b = from
  local mtask, mc, mds, mb = nil, 0, 0, {}
  local function count_completed()
    if mc == 0 then return end
    metric(mtask, 'c', mc, 'ds', mds)
    for k, c in pairs(mb) do metric(mtask, k, c) end
    mc, mds, mb = 0, 0, {}
  end
  local nargs = #ARGV
  while b <= nargs do
    local id, token, outcome = ARGV[b], ARGV[b + 1], ARGV[b + 2]
    local result, tail, eat, msg, delay, dur, bucket = '', '', '0', '', '0'
    if outcome == 'c' then
      outcome, dur, bucket = 'completed', ARGV[b + 3], ARGV[b + 4]
      b = b + 5
    else
      result, tail, eat, msg, delay, dur, bucket = ARGV[b + 3], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6], ARGV[b + 7], ARGV[b + 8], ARGV[b + 9]
      b = b + 10
    end
    local jk = JP .. id
    -- Every outcome reads these; a hash field costs its read whether or not it is used.
    local v
    if with_children then
      v = redis.call('HMGET', jk, 'st', 'lt', 'ca', 't', 'cr', 'ch')
    else
      v = redis.call('HMGET', jk, 'st', 'lt', 'ca', 't', 'cr')
    end
    if v[1] ~= 'active' or v[2] ~= token then
      out[#out + 1] = 'lost'
    else
      out[#out + 1] = 'ok'
      local ca, task = v[3], v[4]
      -- Each job of the call leaves the lease set once: a second outcome for it finds it no
      -- longer active.
      lease_rems[#lease_rems + 1] = id
      -- A job that ends keeps its lease fields: every script that reads them checks that the
      -- job is active first, and so does the decoder, while emptying them cost the job's HSET
      -- two rewrites of its hash. A retry, which makes the job waiting again, empties them. f
      -- holds the fields to set beyond the state (and the finish time), when there are any: the
      -- usual outcome builds no table.
      local f
      local w
      if tail ~= '' or outcome == 'retry' then
        -- A retry puts the job back in the ready set, by its priority, which may still be in the
        -- record the claim kept.
        if outcome == 'retry' then jkey(id) end
        w = redis.call('HMGET', jk, 'at', 'pr', 'er')
      end
      if tail ~= '' then
        eat = eat == '0' and NOW or tonumber(eat)
        f = {'er', with_error(w[3], w[1] or '0', eat, tail)}
      end
      if outcome == 'retry' then
        local ra = NOW + tonumber(delay)
        local st = ra > NOW and 'delayed' or 'waiting'
        f = f or {}
        f[#f + 1] = 'ra'; f[#f + 1] = fmt(ra)
        redis.call('HSET', jk, 'lt', '', 'le', '', 'cr', '', 'st', st, unpack(f))
        move(id, 'active', st, ca)
        if st == 'delayed' then zset(K_DUE, id, ra) else ready(id, w[2], ra) end
        event('job:retrying', id, task, st, msg)
        metric(task, 'r', 1)
      else
        if outcome == 'completed' and result ~= '' then
          f = f or {}
          f[#f + 1] = 'r'; f[#f + 1] = result
        end
        -- A cancel request is emptied when there is one: writing an empty field the hash does
        -- not have costs the hash a field.
        if v[5] and v[5] ~= '' then
          f = f or {}
          f[#f + 1] = 'cr'; f[#f + 1] = ''
        end
        if f then
          redis.call('HSET', jk, 'st', outcome, 'fa', now, unpack(f))
        else
          redis.call('HSET', jk, 'st', outcome, 'fa', now)
        end
        local sl, fl = sadds[outcome], fadds[outcome]
        if not sl then
          sl, fl = zadds(SKEY[outcome]), zadds(FKEY[outcome])
          sadds[outcome], fadds[outcome] = sl, fl
        end
        if ca then
          sl[#sl + 1] = ca; sl[#sl + 1] = id
        else
          -- A hash without its created-at (only a hand edit makes one) leaves the state's set:
          -- a false score in the list would fail the whole call.
          zset(SKEY[outcome], id, false)
        end
        fl[#fl + 1] = now; fl[#fl + 1] = id
        if outcome == 'completed' then
          release_children(v[6])
          -- Counted once per run of jobs of one task (count_completed), not once per job.
          if task ~= mtask then
            count_completed()
            mtask = task
          end
          mc, mds = mc + 1, mds + tonumber(dur)
          mb[bucket] = (mb[bucket] or 0) + 1
          event('job:completed', id, task, outcome, '')
        elseif outcome == 'failed' then
          metric(task, 'f', 1, 'ds', tonumber(dur), bucket, 1)
          event('job:failed', id, task, outcome, msg)
          parent_ended(id, outcome)
        else
          event('job:cancelled', id, task, outcome, msg)
          parent_ended(id, outcome)
        end
      end
    end
  end
  count_completed()
  return out
end
