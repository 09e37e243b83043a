-- Mines as tenants: every tenant row names its mine, every key of a tenant table leads with it, and row-level security hides other mines' rows.
-- The twin of SQLite's 0025 (one mine there). Tenant tables are all but the process and
-- messaging ones keyed by chat and shared by every mine (schema_version, inbox, outbox,
-- conversations, button_menus, heartbeats) and the two directories made here (mines,
-- chat_mines). The scope is the setting `jindianzi.mine`, which storage.pg sets in every
-- transaction to its view's mine; '*' (the group level) reads every mine and writes none.
CREATE SEQUENCE mines_position_seq;
CREATE TABLE mines (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    position    BIGINT DEFAULT nextval('mines_position_seq')
);
ALTER SEQUENCE mines_position_seq OWNED BY mines.position;
INSERT INTO mines (id, name) VALUES ('main', '本矿');

-- Which mine a chat (a person's or a group's) belongs to.
CREATE TABLE chat_mines (
    channel     TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    mine        TEXT NOT NULL REFERENCES mines(id),
    since       TEXT NOT NULL,
    PRIMARY KEY (channel, chat_id)
);

DO $mines$
DECLARE
    -- Every tenant table. A table added later joins by its own migration doing the same steps.
    tenant CONSTANT text[] := ARRAY[
        'departments', 'branches', 'people', 'roles', 'identities', 'ideas',
        'category_corrections', 'attachments', 'idea_terms', 'group_bindings', 'idea_term_docs',
        'findings', 'finding_history', 'visits', 'job_runs', 'idea_history', 'projects',
        'project_branches', 'project_ideas', 'project_progress', 'benefits', 'rewards',
        'reward_recipients', 'score_entries', 'closed_months', 'invite_codes', 'bind_failures',
        'bind_requests', 'idea_lists', 'party_groups', 'party_group_members', 'key_points',
        'kpis', 'kpi_values', 'reward_claims', 'reward_set_asides', 'achievements',
        'score_reopenings', 'quarter_reports', 'quarter_comments'
    ];
    t text;
    r record;
    fk_cols text;
    ref_cols text;
    on_delete text;
BEGIN
    -- 1. The column. Existing rows belong to 'main'; afterwards a row takes the mine of the
    --    transaction that writes it, and a statement run without a scope fails rather than
    --    guess (current_setting without missing_ok raises).
    FOREACH t IN ARRAY tenant LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN mine TEXT NOT NULL DEFAULT %L', t, 'main');
        EXECUTE format('ALTER TABLE %I ALTER COLUMN mine SET DEFAULT current_setting(%L)',
                       t, 'jindianzi.mine');
    END LOOP;

    -- 2. Foreign keys between tenant tables, remembered and dropped: they depend on the keys
    --    rebuilt below, and come back with `mine` first on both sides (step 5), so a row can
    --    only ever point at a row of its own mine.
    CREATE TEMP TABLE mines_fks ON COMMIT DROP AS
    SELECT c.conname, c.conrelid::regclass::text AS tbl, c.confrelid::regclass::text AS ref,
           c.confdeltype, c.confupdtype, c.condeferrable, c.condeferred,
           ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                 ORDER BY k.i) AS cols,
           ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                 ORDER BY k.i) AS ref_cols
      FROM pg_constraint c
     WHERE c.contype = 'f'
       AND c.conrelid::regclass::text = ANY (tenant)
       AND c.confrelid::regclass::text = ANY (tenant);
    FOR r IN SELECT * FROM mines_fks LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', r.tbl, r.conname);
    END LOOP;

    -- 3. Primary keys and UNIQUE constraints, re-created under the same name with `mine`
    --    first: the same department id or employee number may exist once in each mine.
    FOR r IN
        SELECT c.conname, c.conrelid::regclass::text AS tbl, c.contype,
               ARRAY(SELECT quote_ident(a.attname) FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                     ORDER BY k.i) AS cols
          FROM pg_constraint c
         WHERE c.contype IN ('p', 'u') AND c.conrelid::regclass::text = ANY (tenant)
    LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', r.tbl, r.conname);
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s (mine, %s)', r.tbl, r.conname,
                       CASE r.contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END,
                       array_to_string(r.cols, ', '));
    END LOOP;

    -- 4. Unique indexes that back no constraint (partial ones such as bind_requests_open):
    --    their definition with `mine` put before the first key column, WHERE clause kept.
    FOR r IN
        SELECT i.indexrelid::regclass::text AS idx, pg_get_indexdef(i.indexrelid) AS def
          FROM pg_index i
         WHERE i.indisunique
           AND i.indrelid::regclass::text = ANY (tenant)
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    LOOP
        EXECUTE format('DROP INDEX %s', r.idx);
        EXECUTE regexp_replace(r.def, ' USING (\w+) \(', ' USING \1 (mine, ');
    END LOOP;

    -- 5. The foreign keys back, `mine` first on both sides. ON DELETE SET NULL names its
    --    columns (PostgreSQL 15), so deleting the target nulls the reference, never `mine`.
    FOR r IN SELECT * FROM mines_fks LOOP
        IF r.confupdtype <> 'a' THEN
            RAISE EXCEPTION 'foreign key %.% has an ON UPDATE action this migration does not rebuild',
                r.tbl, r.conname;
        END IF;
        SELECT string_agg(quote_ident(x), ', ') INTO fk_cols FROM unnest(r.cols) x;
        SELECT string_agg(quote_ident(x), ', ') INTO ref_cols FROM unnest(r.ref_cols) x;
        on_delete := CASE r.confdeltype
            WHEN 'a' THEN 'NO ACTION'
            WHEN 'r' THEN 'RESTRICT'
            WHEN 'c' THEN 'CASCADE'
            WHEN 'n' THEN format('SET NULL (%s)', fk_cols)
            WHEN 'd' THEN format('SET DEFAULT (%s)', fk_cols)
        END;
        EXECUTE format(
            'ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (mine, %s) REFERENCES %I (mine, %s)'
            ' ON DELETE %s%s',
            r.tbl, r.conname, fk_cols, r.ref, ref_cols, on_delete,
            CASE WHEN NOT r.condeferrable THEN ''
                 WHEN r.condeferred THEN ' DEFERRABLE INITIALLY DEFERRED'
                 ELSE ' DEFERRABLE' END);
    END LOOP;

    -- 6. Row-level security, forced so that the tables' owner (the app's role) is bound too.
    --    Reads: the scope's own mine, or every mine under '*'. Writes: the scope's own mine
    --    only, never a row of mine '*' (which the column default would give under '*'); the
    --    restrictive DELETE policy keeps '*' from deleting, which WITH CHECK alone would not
    --    (a DELETE writes no new row).
    FOREACH t IN ARRAY tenant LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY mine_rows ON %I'
            ' USING (mine = current_setting(%L, true) OR current_setting(%L, true) = %L)'
            ' WITH CHECK (mine = current_setting(%L, true) AND mine <> %L)',
            t, 'jindianzi.mine', 'jindianzi.mine', '*', 'jindianzi.mine', '*');
        EXECUTE format(
            'CREATE POLICY mine_deletes ON %I AS RESTRICTIVE FOR DELETE'
            ' USING (mine = current_setting(%L, true))',
            t, 'jindianzi.mine');
    END LOOP;
END
$mines$;
