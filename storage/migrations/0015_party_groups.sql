-- Party groups (党小组) within each branch, and the one group each person belongs to.

CREATE TABLE party_groups (
    id              INTEGER PRIMARY KEY,
    branch_id       TEXT NOT NULL REFERENCES branches(id),
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 16),
    created_at      TEXT NOT NULL,
    UNIQUE (branch_id, name)
);

-- The group must be of the person's own branch: the roster import and /group keep it so,
-- and a move to another branch removes the row.
CREATE TABLE party_group_members (
    person_id       INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    group_id        INTEGER NOT NULL REFERENCES party_groups(id) ON DELETE CASCADE
);

CREATE INDEX party_group_members_group ON party_group_members(group_id);
