-- Queries of one mine among many reach that mine's rows through an index.
-- The twin of PostgreSQL's 0028, which makes its row-level policy and its indexes lead with
-- the mine. SQLite serves one mine and has no such policy: nothing to change here.
SELECT 1;
