-- trim: ends an enqueue the client wrote in a transaction of plain commands (see fastenq.go),
-- which appended ARGV[10] stream entries holding ARGV[9] events and added the events to the
-- counter. ARGV[8] is 1 when the counter was missing before it (the transaction's INCRBY read
-- just those events): it is started as ev_trim starts it. Then the stream is cut back to its
-- bound, from the counter as it is now: other writers may have cut it since the transaction.
local c = tonumber(redis.call('GET', K_EV .. ':n') or '0')
if ARGV[8] == '1' then c = ev_start(c, tonumber(ARGV[10])) end
ev_cut(c, tonumber(ARGV[9]))
return 'ok'
