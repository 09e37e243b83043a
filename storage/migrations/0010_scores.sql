-- Monthly 100-point branch scores: every entry kept (the latest per part counts), closed months.
CREATE TABLE score_entries (
    id          INTEGER PRIMARY KEY,
    branch_id   TEXT NOT NULL REFERENCES branches(id),
    month       TEXT NOT NULL,   -- YYYY-MM in the configured timezone
    part        TEXT NOT NULL CHECK (part IN ('base', 'self', 'dept', 'leader')),
    value       REAL NOT NULL CHECK (value BETWEEN 0 AND 100),
    text        TEXT NOT NULL DEFAULT '',
    person_id   INTEGER REFERENCES people(id),
    created_at  TEXT NOT NULL
);
CREATE INDEX score_entries_month ON score_entries(month, branch_id, part, id);

CREATE TABLE closed_months (
    month       TEXT PRIMARY KEY,
    closed_by   INTEGER REFERENCES people(id),
    closed_at   TEXT NOT NULL
);
