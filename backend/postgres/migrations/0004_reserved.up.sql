-- Version 4 is reserved for the branch that adds it (numbers are handed out per branch, and the
-- loader wants no gaps). This file only holds the number on branches that need version 5 first;
-- replace it with that branch's 0004 when both meet.
SELECT 1;
