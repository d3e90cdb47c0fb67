-- trim: ends an enqueue the client wrote in a transaction of plain commands (see fastenq.go),
-- which appended ARGV[10] stream entries of ARGV[9] events and added them to the counter, which
-- then read ARGV[8]: it starts a counter that was missing and cuts the stream back to its bound,
-- as ev_trim does at the end of a script.
local c, added = tonumber(ARGV[8]), tonumber(ARGV[9])
if c == added then c = ev_start(c, tonumber(ARGV[10])) end
ev_cut(c, added)
return 'ok'
