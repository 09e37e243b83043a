-- Supervision: findings raised on branch visits, their history, and the visits themselves.
CREATE TABLE findings (
    id              INTEGER PRIMARY KEY,
    branch_id       TEXT NOT NULL REFERENCES branches(id),
    department_id   TEXT NOT NULL REFERENCES departments(id),
    text            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    escalated       INTEGER NOT NULL DEFAULT 0 CHECK (escalated IN (0, 1)),
    project_ref     TEXT,
    raised_by       INTEGER NOT NULL REFERENCES people(id),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX findings_branch ON findings(branch_id, status);

CREATE TABLE finding_history (
    id              INTEGER PRIMARY KEY,
    finding_id      INTEGER NOT NULL REFERENCES findings(id),
    person_id       INTEGER NOT NULL REFERENCES people(id),
    action          TEXT NOT NULL CHECK (action IN ('add', 'note', 'resolve', 'reopen', 'escalate')),
    text            TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL
);
CREATE INDEX finding_history_finding ON finding_history(finding_id, id);

ALTER TABLE attachments ADD COLUMN finding_id INTEGER REFERENCES findings(id);

CREATE TABLE visits (
    id              INTEGER PRIMARY KEY,
    branch_id       TEXT NOT NULL REFERENCES branches(id),
    department_id   TEXT NOT NULL REFERENCES departments(id),
    person_id       INTEGER NOT NULL REFERENCES people(id),
    note            TEXT NOT NULL DEFAULT '',
    visited_at      TEXT NOT NULL,
    local_month     TEXT NOT NULL   -- YYYY-MM in the configured timezone, fixed at the visit
);
CREATE INDEX visits_month ON visits(local_month, department_id, branch_id);
