-- claim: ARGV[8..12] are claim_jobs's arguments (claim_jobs.lua). Returns what claim_jobs does.
local out = claim_jobs(8)
done()
return out
