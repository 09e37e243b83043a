-- A closed month is corrected only by an explicit reopening: who reopened it, when and why.
CREATE TABLE score_reopenings (
    id          INTEGER PRIMARY KEY,
    month       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    person_id   INTEGER REFERENCES people(id),
    reopened_at TEXT NOT NULL
);
CREATE INDEX score_reopenings_month ON score_reopenings(month, id);
