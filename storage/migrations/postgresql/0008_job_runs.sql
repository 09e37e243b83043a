-- The scheduler's ledger: which (job, period) ran, so nothing runs twice or silently not at all.
-- PostgreSQL translation of the SQLite migration with the same number and name.
CREATE TABLE job_runs (
    job         TEXT NOT NULL,
    period      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('done', 'missed')),
    fire_time   TEXT NOT NULL,
    ran_at      TEXT NOT NULL,
    notices     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job, period)
);
