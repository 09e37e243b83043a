-- Who holds which lease (Telegram polling, an outbox domain) for `jindianzi status`; the lease itself is a PostgreSQL advisory lock.
CREATE TABLE leases (
    name          TEXT PRIMARY KEY,
    pid           INTEGER NOT NULL,
    host          TEXT NOT NULL,
    command       TEXT NOT NULL,
    since         TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL
);
