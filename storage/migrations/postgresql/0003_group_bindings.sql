-- Branch group chats bound with /bind, so notices reach each branch's group.
-- PostgreSQL translation of the SQLite migration with the same number and name.
CREATE TABLE group_bindings (
    channel         TEXT NOT NULL,
    chat_id         TEXT NOT NULL,
    branch_id       TEXT NOT NULL REFERENCES branches(id),
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    bound_by        BIGINT REFERENCES people(id),
    bound_at        TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (channel, chat_id)
);
CREATE INDEX group_bindings_branch ON group_bindings(branch_id) WHERE active = 1;
