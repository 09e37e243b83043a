-- Key projects made from ideas, their progress, verified benefits and rewards; idea history.
CREATE TABLE idea_history (
    id              INTEGER PRIMARY KEY,
    idea_id         INTEGER NOT NULL REFERENCES ideas(id),
    person_id       INTEGER NOT NULL REFERENCES people(id),
    from_status     TEXT NOT NULL,
    to_status       TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL
);
CREATE INDEX idea_history_idea ON idea_history(idea_id, id);

ALTER TABLE ideas ADD COLUMN merged_into INTEGER REFERENCES ideas(id);

CREATE TABLE projects (
    id                      INTEGER PRIMARY KEY,
    title                   TEXT NOT NULL,
    category                TEXT NOT NULL,
    lead_id                 INTEGER NOT NULL REFERENCES people(id),
    expected_benefit_fen    INTEGER NOT NULL CHECK (expected_benefit_fen >= 0),
    created_by              INTEGER NOT NULL REFERENCES people(id),
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL
);

CREATE TABLE project_branches (
    project_id      INTEGER NOT NULL REFERENCES projects(id),
    branch_id       TEXT NOT NULL REFERENCES branches(id),
    PRIMARY KEY (project_id, branch_id)
);

-- An idea belongs to at most one project.
CREATE TABLE project_ideas (
    idea_id         INTEGER PRIMARY KEY REFERENCES ideas(id),
    project_id      INTEGER NOT NULL REFERENCES projects(id)
);

CREATE TABLE project_progress (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects(id),
    person_id       INTEGER NOT NULL REFERENCES people(id),
    percent         INTEGER CHECK (percent BETWEEN 0 AND 100),
    text            TEXT NOT NULL,
    created_at      TEXT NOT NULL
);

CREATE TABLE benefits (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects(id),
    amount_fen      INTEGER NOT NULL CHECK (amount_fen > 0),
    text            TEXT NOT NULL,
    claimed_by      INTEGER NOT NULL REFERENCES people(id),
    status          TEXT NOT NULL DEFAULT 'claimed' CHECK (status IN ('claimed', 'verified', 'rejected')),
    decided_by      INTEGER REFERENCES people(id),
    decided_at      TEXT,
    reason          TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL
);

CREATE TABLE rewards (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects(id),
    amount_fen      INTEGER NOT NULL CHECK (amount_fen > 0),
    basis_fen       INTEGER NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    confirmed_by    INTEGER NOT NULL REFERENCES people(id),
    created_at      TEXT NOT NULL
);

CREATE TABLE reward_recipients (
    reward_id       INTEGER NOT NULL REFERENCES rewards(id),
    person_id       INTEGER REFERENCES people(id),
    branch_id       TEXT REFERENCES branches(id),
    label           TEXT NOT NULL,
    amount_fen      INTEGER NOT NULL CHECK (amount_fen > 0)
);
