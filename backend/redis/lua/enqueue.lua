-- enqueue: ARGV[8] = number of groups; each group is its Now (µs, '0' for the server clock),
-- its number of jobs, then NF arguments per job (see enqueue_lib.lua). Each group is one Enqueue
-- call, stored all-or-nothing on its own. The reply is flat, since every nested table costs Redis
-- a reply of its own to convert: per group, 'ok', created (1 when the call made the queue known)
-- and what each of its jobs was stored as (see enqueue_write), or a refusal code and the ID it
-- names.
local out = {}
local b = 9
local clock = NOW
if GLOBAL then
  local ids = {}
  for g = 1, tonumber(ARGV[8]) do
    local n = tonumber(ARGV[b + 1])
    for i = 0, n - 1 do ids[#ids + 1] = ARGV[b + 2 + i * NF] end
    b = b + 2 + n * NF
  end
  enqueue_prefetch(ids)
  b = 9
end
for g = 1, tonumber(ARGV[8]) do
  if ARGV[b] == '0' then NOW = clock else set_now(ARGV[b]) end
  local n = tonumber(ARGV[b + 1])
  local base = b + 2
  local batch = batch_ids(base, n)
  local err = enqueue_check(base, n, batch)
  if err then
    out[#out + 1] = err[1]
    out[#out + 1] = err[2]
  else
    out[#out + 1] = 'ok'
    out[#out + 1] = known()
    enqueue_write(base, n, batch, out)
  end
  b = base + n * NF
end
done()
return out
