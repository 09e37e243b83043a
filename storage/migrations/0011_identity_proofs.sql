-- Identity is proved, not claimed: roster phones, one-time invite codes, failed attempts, approvals.
ALTER TABLE people ADD COLUMN phone TEXT;

-- A one-time code for one person, stored as a salted hash; issuing a new one replaces the unused.
CREATE TABLE invite_codes (
    id              INTEGER PRIMARY KEY,
    person_id       INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    salt            TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    issued_by       INTEGER REFERENCES people(id) ON DELETE SET NULL,
    issued_at       TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    used_at         TEXT
);
CREATE INDEX invite_codes_person ON invite_codes (person_id) WHERE used_at IS NULL;

-- One row per failed proof from a sender; the recent ones limit how often anyone may guess.
CREATE TABLE bind_failures (
    channel         TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    failed_at       TEXT NOT NULL
);
CREATE INDEX bind_failures_sender ON bind_failures (channel, external_id, failed_at);

-- A worker's request that their branch secretary vouch for them; one open request per sender.
CREATE TABLE bind_requests (
    id              INTEGER PRIMARY KEY,
    person_id       INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    channel         TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_at    TEXT NOT NULL,
    decided_by      INTEGER REFERENCES people(id) ON DELETE SET NULL,
    decided_at      TEXT
);
CREATE UNIQUE INDEX bind_requests_open ON bind_requests (channel, external_id)
    WHERE status = 'pending';
