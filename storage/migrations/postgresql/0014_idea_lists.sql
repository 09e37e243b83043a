-- /ideas, /search and the /review queue: an index for status filters and the whole mine's queue, and the filters behind paging buttons.
-- PostgreSQL translation of the SQLite migration with the same number and name.
CREATE INDEX ideas_status ON ideas(status, id);

-- A list's filter, named by a short token in its paging buttons (64 bytes hold no search words).
CREATE TABLE idea_lists (
    token           TEXT PRIMARY KEY,
    person_id       BIGINT NOT NULL REFERENCES people(id),
    filter          TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
