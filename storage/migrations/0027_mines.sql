-- Mines as tenants: every tenant row names its mine ('main' here: SQLite serves one mine), and a directory of mines and of the chats each one owns.
-- Tenant tables carry `mine`; the process and messaging tables keyed by chat (schema_version,
-- inbox, outbox, conversations, button_menus, heartbeats) are shared by all mines and do not.
-- PostgreSQL's twin adds the same column, leads every key with it and hides other mines' rows
-- by row-level security; here one mine only, so no key is rebuilt. The repositories name
-- `ON CONFLICT (mine, …)` on both dialects, hence one mine-first UNIQUE index per such target.
CREATE TABLE mines (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    position    INTEGER
);
CREATE TRIGGER mines_position AFTER INSERT ON mines BEGIN
    UPDATE mines SET position = NEW.rowid WHERE rowid = NEW.rowid;
END;
INSERT INTO mines (id, name) VALUES ('main', '本矿');

-- Which mine a chat (a person's or a group's) belongs to.
CREATE TABLE chat_mines (
    channel     TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    mine        TEXT NOT NULL REFERENCES mines(id),
    since       TEXT NOT NULL,
    PRIMARY KEY (channel, chat_id)
);

ALTER TABLE departments ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE branches ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE people ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE roles ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE identities ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE ideas ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE category_corrections ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE attachments ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE group_bindings ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE idea_term_docs ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE findings ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE finding_history ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE visits ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE job_runs ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE idea_history ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE projects ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE project_branches ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE project_ideas ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE project_progress ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE benefits ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE rewards ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE reward_recipients ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE score_entries ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE closed_months ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE invite_codes ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE bind_failures ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE bind_requests ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE idea_lists ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE party_groups ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE party_group_members ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE key_points ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE kpis ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE kpi_values ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE reward_claims ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE reward_set_asides ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE achievements ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE score_reopenings ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE quarter_reports ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';
ALTER TABLE quarter_comments ADD COLUMN mine TEXT NOT NULL DEFAULT 'main';

-- The mine-first twin of each key an `ON CONFLICT (mine, …)` of the repositories names. SQLite
-- cannot target a composite index holding an INTEGER PRIMARY KEY (the rowid): there the
-- repositories name the rowid alone (storage.repos.dialect.mine_key), one mine being all.
CREATE UNIQUE INDEX departments_mine_key ON departments (mine, id);
CREATE UNIQUE INDEX branches_mine_key ON branches (mine, id);
CREATE UNIQUE INDEX people_mine_employee_no ON people (mine, employee_no);
CREATE UNIQUE INDEX group_bindings_mine_key ON group_bindings (mine, channel, chat_id);
CREATE UNIQUE INDEX idea_term_docs_mine_key ON idea_term_docs (mine, term);
CREATE UNIQUE INDEX job_runs_mine_key ON job_runs (mine, job, period);
CREATE UNIQUE INDEX idea_lists_mine_key ON idea_lists (mine, token);
CREATE UNIQUE INDEX party_groups_mine_name ON party_groups (mine, branch_id, name);
CREATE UNIQUE INDEX quarter_reports_mine_key ON quarter_reports (mine, quarter, project_id, branch_id);
