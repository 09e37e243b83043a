-- The quarterly review: each secretary's report per key project of the branch (progress,
-- problems, next steps; a resubmission replaces it) and the leaders' comments on each report.
CREATE TABLE quarter_reports (
    id          INTEGER PRIMARY KEY,
    quarter     TEXT NOT NULL,
    project_id  INTEGER NOT NULL REFERENCES projects(id),
    branch_id   TEXT NOT NULL REFERENCES branches(id),
    progress    TEXT NOT NULL,
    problems    TEXT NOT NULL,
    next_steps  TEXT NOT NULL,
    person_id   INTEGER NOT NULL REFERENCES people(id),
    reported_at TEXT NOT NULL,
    UNIQUE (quarter, project_id, branch_id)
);
CREATE INDEX quarter_reports_branch ON quarter_reports(quarter, branch_id);

CREATE TABLE quarter_comments (
    id          INTEGER PRIMARY KEY,
    report_id   INTEGER NOT NULL REFERENCES quarter_reports(id),
    person_id   INTEGER NOT NULL REFERENCES people(id),
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX quarter_comments_report ON quarter_comments(report_id, id);
