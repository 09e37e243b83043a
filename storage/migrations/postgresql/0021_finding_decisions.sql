-- The Monday meeting's decision on a finding: what was decided, the department assigned and the due day.
-- PostgreSQL translation of the SQLite migration with the same number and name.
ALTER TABLE findings ADD COLUMN decision TEXT;
ALTER TABLE findings ADD COLUMN assigned_department TEXT;
-- the local day (YYYY-MM-DD) by which the assigned department is to have it done
ALTER TABLE findings ADD COLUMN decision_due TEXT;
ALTER TABLE findings ADD COLUMN decided_by BIGINT REFERENCES people(id);
ALTER TABLE findings ADD COLUMN decided_at TEXT;
-- the history records the decision as one more action: the CHECK is widened. SQLite rebuilds
-- the table for that; PostgreSQL replaces the constraint (its name is the one PostgreSQL gave
-- the column's CHECK in 0007), keeping ids, rows and the index.
ALTER TABLE finding_history DROP CONSTRAINT finding_history_action_check;
ALTER TABLE finding_history ADD CONSTRAINT finding_history_action_check
    CHECK (action IN ('add', 'note', 'resolve', 'reopen', 'escalate', 'decide'));
