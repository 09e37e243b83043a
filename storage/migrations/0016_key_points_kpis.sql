-- Key points (关键点) owned by branches with their own progress; benefit as quantity × unit price for a month; KPIs with history.
CREATE TABLE key_points (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects(id),
    branch_id       TEXT NOT NULL REFERENCES branches(id),
    title           TEXT NOT NULL,
    due_month       TEXT NOT NULL CHECK (due_month GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]'),
    created_by      INTEGER NOT NULL REFERENCES people(id),
    created_at      TEXT NOT NULL
);
CREATE INDEX key_points_project ON key_points(project_id, id);

-- A report on a project with key points names the key point; NULL: the project as a whole.
ALTER TABLE project_progress ADD COLUMN key_point_id INTEGER REFERENCES key_points(id);
CREATE INDEX project_progress_key_point ON project_progress(key_point_id, id);

-- Quantity (a decimal as text), its unit and the unit price; amount_fen stays their product.
ALTER TABLE benefits ADD COLUMN quantity TEXT;
ALTER TABLE benefits ADD COLUMN unit TEXT NOT NULL DEFAULT '';
ALTER TABLE benefits ADD COLUMN unit_price_fen INTEGER CHECK (unit_price_fen > 0);
ALTER TABLE benefits ADD COLUMN period TEXT;

-- Values are decimals kept as text, exactly as read (16.07, not 16.0699…).
CREATE TABLE kpis (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects(id),
    name            TEXT NOT NULL,
    unit            TEXT NOT NULL DEFAULT '',
    baseline        TEXT NOT NULL,
    target          TEXT NOT NULL,
    created_by      INTEGER NOT NULL REFERENCES people(id),
    created_at      TEXT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE kpi_values (
    id              INTEGER PRIMARY KEY,
    kpi_id          INTEGER NOT NULL REFERENCES kpis(id),
    value           TEXT NOT NULL,
    person_id       INTEGER NOT NULL REFERENCES people(id),
    created_at      TEXT NOT NULL
);
CREATE INDEX kpi_values_kpi ON kpi_values(kpi_id, id);
