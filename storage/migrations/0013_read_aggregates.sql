-- /stats, the weekly digest and the ledger count in SQL: a covering index by time, one of the waiting.
CREATE INDEX ideas_created ON ideas(created_at, branch_id, category, status);
CREATE INDEX ideas_waiting ON ideas(branch_id) WHERE status = 'submitted';
