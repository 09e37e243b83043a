-- /stats and the weekly digest count in SQL: indexes in the order they read and group ideas.
-- PostgreSQL translation of the SQLite migration with the same number and name.
CREATE INDEX ideas_created ON ideas(created_at, status, branch_id);
CREATE INDEX ideas_branch_category ON ideas(branch_id, category, created_at, status);
CREATE INDEX ideas_waiting ON ideas(branch_id) WHERE status = 'submitted';
