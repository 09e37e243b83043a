-- Queries of one mine among many reach that mine's rows through an index.
-- 0027's policy, `mine = setting OR setting = '*'`, is an OR that no index can enter: every
-- query of a mine scanned all mines' rows and filtered them (a million ideas: an idea by its
-- id took 52 ms, a similar-idea lookup seconds; benchmarks/group_scale.py). The policy now
-- reads `mine = ANY (jindianzi_scope())`: one mine's id, or for the group scope '*' every mine
-- of the `mines` directory (which the app fills from its configuration). A stable expression
-- on the right of `= ANY` is an index condition, so the mine-first keys of 0027 and the
-- mine-first indexes below serve each mine's queries. The write check is unchanged.
CREATE FUNCTION jindianzi_scope() RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN current_setting('jindianzi.mine', true) = '*'
                THEN ARRAY(SELECT id FROM mines)
                ELSE ARRAY[current_setting('jindianzi.mine', true)] END
$$;

DO $mine_indexes$
DECLARE
    t text;
    r record;
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid
        WHERE p.polname = 'mine_rows' AND c.relnamespace = 'public'::regnamespace
    LOOP
        EXECUTE format('DROP POLICY mine_rows ON %I', t);
        EXECUTE format(
            'CREATE POLICY mine_rows ON %I USING (mine = ANY (jindianzi_scope()))'
            ' WITH CHECK (mine = current_setting(%L, true) AND mine <> %L)',
            t, 'jindianzi.mine', '*');
        -- Every other (non-unique, b-tree) index of a tenant table leads with the mine too,
        -- so a mine's ideas of the year or open findings are read from that mine's part.
        -- (The GIN index of the search terms stays as it is: a mine's terms rows are found
        -- by the mine-first key, then matched.)
        FOR r IN
            SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_am am ON am.oid = ic.relam
            WHERE i.indrelid = t::regclass AND NOT i.indisunique AND am.amname = 'btree'
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        LOOP
            CONTINUE WHEN r.def LIKE '%USING btree (mine%';
            EXECUTE format('DROP INDEX %s', r.name);
            EXECUTE regexp_replace(r.def, 'USING btree \(', 'USING btree (mine, ');
        END LOOP;
    END LOOP;
END
$mine_indexes$;
