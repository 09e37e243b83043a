-- Achievements: methods (管理法 / 操作法), awards and patents recorded against a project or an idea.
CREATE TABLE achievements (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL
                    CHECK (kind IN ('management_method', 'operating_method', 'award', 'patent')),
    title           TEXT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    -- an idea's achievement also names the idea's project, if it has one, so the card shows it
    project_id      INTEGER REFERENCES projects(id),
    idea_id         INTEGER REFERENCES ideas(id),
    person_id       INTEGER NOT NULL REFERENCES people(id),
    created_at      TEXT NOT NULL,
    CHECK (project_id IS NOT NULL OR idea_id IS NOT NULL)
);
CREATE INDEX achievements_project ON achievements(project_id, id);
CREATE INDEX achievements_created ON achievements(created_at);
