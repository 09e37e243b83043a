-- A mine's scope is computed once per statement, not once per row.
-- The twin of PostgreSQL's 0029, which changes its row-level policy only. SQLite serves one
-- mine and has no such policy: nothing to change here.
SELECT 1;
