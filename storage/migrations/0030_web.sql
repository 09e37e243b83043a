-- The web 看板: one-time links from the chat, browser sessions and a record of every write, kept as SHA-256 hashes of the secrets.
-- Global tables (no row-level security): a browser's cookie is looked up before its mine is
-- known, so each row names its mine as data, and the person is that mine's person id (no
-- foreign key: people's key leads with the mine on PostgreSQL, and a person left out of the
-- roster simply finds their session refused).

-- A /web link: the hash of its one-time token, for whom, until when, and when it was used.
CREATE TABLE web_links (
    id              INTEGER PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
    mine            TEXT NOT NULL DEFAULT 'main',
    person_id       INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    used_at         TEXT
);

-- A browser session opened by a link; revoked by logout or by an admin.
CREATE TABLE web_sessions (
    id              INTEGER PRIMARY KEY,
    session_hash    TEXT NOT NULL UNIQUE,
    mine            TEXT NOT NULL DEFAULT 'main',
    person_id       INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    revoked_at      TEXT,
    revoked_by      INTEGER,
    user_agent      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_live ON web_sessions (mine, expires_at) WHERE revoked_at IS NULL;

-- Every write done through the 看板: who, what, on which object.
CREATE TABLE web_audit (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    mine            TEXT NOT NULL DEFAULT 'main',
    person_id       INTEGER,
    action          TEXT NOT NULL,
    target          TEXT NOT NULL DEFAULT '',
    detail          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX web_audit_at ON web_audit (mine, at);
