-- finish: ARGV[8..] are outcomes of 10 arguments (finish_jobs.lua). Returns 'ok' or 'lost' for
-- each.
local out = finish_jobs(8)
done()
return out
