-- The first schema: organisation, people and roles, identities, ideas, inbox, outbox, conversations.

CREATE TABLE departments (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL
);

CREATE TABLE branches (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    department_id   TEXT NOT NULL REFERENCES departments(id)
);

CREATE TABLE people (
    id              INTEGER PRIMARY KEY,
    employee_no     TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    branch_id       TEXT NOT NULL REFERENCES branches(id),
    wecom_userid    TEXT UNIQUE,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- role is one of worker, secretary, supervisor, leader, admin; department_id only for supervisor.
CREATE TABLE roles (
    person_id       INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('worker', 'secretary', 'supervisor', 'leader', 'admin')),
    department_id   TEXT REFERENCES departments(id),
    PRIMARY KEY (person_id, role),
    CHECK ((role = 'supervisor') = (department_id IS NOT NULL))
);

-- A chat identity on one channel; one roster person has at most one per channel.
CREATE TABLE identities (
    channel         TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    person_id       INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    bound_at        TEXT NOT NULL,
    PRIMARY KEY (channel, external_id),
    UNIQUE (channel, person_id)
);

CREATE TABLE ideas (
    id              INTEGER PRIMARY KEY,
    author_id       INTEGER NOT NULL REFERENCES people(id),
    branch_id       TEXT NOT NULL REFERENCES branches(id),
    text            TEXT NOT NULL,
    category        TEXT NOT NULL,
    confidence      REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    confirmed       INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
    status          TEXT NOT NULL DEFAULT 'submitted',
    channel         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX ideas_author ON ideas(author_id, id);
CREATE INDEX ideas_branch ON ideas(branch_id, id);

-- Every category change by a person: the labelled examples the classifier learns from.
CREATE TABLE category_corrections (
    id              INTEGER PRIMARY KEY,
    idea_id         INTEGER NOT NULL REFERENCES ideas(id),
    old_category    TEXT NOT NULL,
    new_category    TEXT NOT NULL,
    person_id       INTEGER NOT NULL REFERENCES people(id),
    created_at      TEXT NOT NULL
);

CREATE TABLE attachments (
    id              INTEGER PRIMARY KEY,
    idea_id         INTEGER REFERENCES ideas(id),
    person_id       INTEGER REFERENCES people(id),
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    file_ref        TEXT NOT NULL,
    created_at      TEXT NOT NULL
);

-- Every incoming update by its platform id; status 'done' is written with the update's effect.
CREATE TABLE inbox (
    channel         TEXT NOT NULL,
    update_id       TEXT NOT NULL,
    raw             TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    received_at     TEXT NOT NULL,
    processed_at    TEXT,
    PRIMARY KEY (channel, update_id)
);
CREATE INDEX inbox_pending ON inbox(status) WHERE status = 'pending';

-- Multi-step conversations (registration and the like) survive restarts.
CREATE TABLE conversations (
    channel         TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    state           TEXT NOT NULL,
    data            TEXT NOT NULL DEFAULT '{}',
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (channel, external_id)
);

-- Every outbound message; dedupe_key makes enqueueing idempotent.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,
    chat_id         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'pending';
