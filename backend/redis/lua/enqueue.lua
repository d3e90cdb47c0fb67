-- enqueue: ARGV[8] = number of jobs, then 13 arguments per job. All or nothing.
local n = tonumber(ARGV[8])
local batch = batch_ids(9, n)
local err = enqueue_check(9, n, batch)
if err then return err end
local created = known()
enqueue_write(9, n, batch)
wake()
return {'ok', created}
