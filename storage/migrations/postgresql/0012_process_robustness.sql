-- Poison updates set aside after a few tries, outbox rows leased while sent, heartbeats for `jindianzi status`.
-- PostgreSQL translation of the SQLite migration with the same number and name.
ALTER TABLE inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN last_error TEXT;
CREATE INDEX inbox_failed ON inbox(processed_at) WHERE status = 'failed';

-- A sender claims a row until this time; after a crash the row is taken again once it passes.
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;

-- When each long-running part last did its work (the last Telegram poll and the like).
CREATE TABLE heartbeats (
    name    TEXT PRIMARY KEY,
    at      TEXT NOT NULL
);
