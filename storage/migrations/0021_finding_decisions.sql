-- The Monday meeting's decision on a finding: what was decided, the department assigned and the due day.
ALTER TABLE findings ADD COLUMN decision TEXT;
ALTER TABLE findings ADD COLUMN assigned_department TEXT;
-- the local day (YYYY-MM-DD) by which the assigned department is to have it done
ALTER TABLE findings ADD COLUMN decision_due TEXT;
ALTER TABLE findings ADD COLUMN decided_by INTEGER REFERENCES people(id);
ALTER TABLE findings ADD COLUMN decided_at TEXT;
-- the history records the decision as one more action: the CHECK is widened by rebuilding
CREATE TABLE finding_history_new (
    id              INTEGER PRIMARY KEY,
    finding_id      INTEGER NOT NULL REFERENCES findings(id),
    person_id       INTEGER NOT NULL REFERENCES people(id),
    action          TEXT NOT NULL
                    CHECK (action IN ('add', 'note', 'resolve', 'reopen', 'escalate', 'decide')),
    text            TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL
);
INSERT INTO finding_history_new (id, finding_id, person_id, action, text, created_at)
    SELECT id, finding_id, person_id, action, text, created_at FROM finding_history;
DROP TABLE finding_history;
ALTER TABLE finding_history_new RENAME TO finding_history;
CREATE INDEX finding_history_finding ON finding_history(finding_id, id);
