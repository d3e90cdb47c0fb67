-- finclaim records outcomes, then claims, in one call: ARGV[8..12] are claim_jobs's arguments and
-- ARGV[13..] finish_jobs's outcomes. The outcomes go first, so the slots they free are the ones
-- the claim fills. Returns {finish_jobs's reply, claim_jobs's reply}.
local fin = finish_jobs(13)
local got = claim_jobs(8)
done()
return {fin, got}
