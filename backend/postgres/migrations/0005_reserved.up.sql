-- Placeholder for the migration reserved for another branch (see the lead's numbering);
-- drop this file when that migration lands.
SELECT 1;
