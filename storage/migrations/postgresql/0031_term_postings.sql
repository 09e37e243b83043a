-- The similar-idea candidates through a term → idea posting table, an index range under row-level security.
-- PostgreSQL only (SQLite's twin does nothing: FTS5 walks a term's rowids itself). The search
-- took a term's latest ideas from idea_terms with `tsv @@ to_tsquery(…)` ORDER BY id DESC; `@@`
-- is not leakproof, so under the forced policy of 0028/0029 the planner may not apply it
-- before the policy and no GIN scan serves it: it walked the mine's idea_terms rows newest
-- first, testing each, until the limit matched, which for a rare term is the whole mine
-- (8-11 ms per call in a 600-idea burst, p99 0.43 s at 1,000,000 ideas; BENCHMARKS.md,
-- issue 20). Here each (term, idea) of a mine is a row, the primary key (mine, term, idea_id)
-- its index: text `=` is leakproof, so `term = ?` is an index condition beside the policy's
-- `mine = ANY (…)`, and a term's latest ideas are a backward range scan of that key.
-- The terms are lower-cased as IdeaRepo.index_terms lower-cases the document counts' terms.
CREATE TABLE idea_term_postings (
    mine    TEXT NOT NULL DEFAULT current_setting('jindianzi.mine'),
    term    TEXT NOT NULL,
    idea_id BIGINT NOT NULL,
    PRIMARY KEY (mine, term, idea_id),
    FOREIGN KEY (mine, idea_id) REFERENCES ideas (mine, id)
);

-- The backfill, every mine's terms rows. Migrations run with no scope, and FORCE binds the
-- owner who runs them: under the policy this SELECT would see no row at all. NO FORCE for
-- the length of this transaction lets the owner read every mine (ALTER TABLE holds an
-- ACCESS EXCLUSIVE lock on idea_terms until the commit, so no other session ever sees it
-- unforced); the new table is not under row-level security until it is filled.
-- Each idea's terms once (DISTINCT: a term may repeat in an idea), split on whitespace as
-- 0004 splits them for the counts, lower-cased with lower(). That agrees with Python's
-- str.lower (what index_terms stores) for what is stored: the words classifier.terms()
-- makes are already lower-cased by nlp.features.prepare, and on a lower-cased word both are
-- the identity (Python's lower is idempotent; lower() maps ASCII A-Z under any collation and,
-- under a libc or ICU one, other letters by the same Unicode mappings); a character newer
-- than Python's Unicode tables is not alphanumeric there and never in a term. Only a term
-- with non-ASCII capitals stored by some other path could differ (under the C collation,
-- lower() leaves them as they are).
ALTER TABLE idea_terms NO FORCE ROW LEVEL SECURITY;
INSERT INTO idea_term_postings (mine, term, idea_id)
SELECT DISTINCT t.mine, lower(w.term), t.id
FROM idea_terms t, regexp_split_to_table(t.terms, '\s+') AS w(term)
WHERE w.term <> '';
ALTER TABLE idea_terms FORCE ROW LEVEL SECURITY;

-- A tenant table as 0027 made them, with the policy as 0028 and 0029 left it.
ALTER TABLE idea_term_postings ENABLE ROW LEVEL SECURITY;
ALTER TABLE idea_term_postings FORCE ROW LEVEL SECURITY;
CREATE POLICY mine_rows ON idea_term_postings
    USING (mine = ANY ((SELECT jindianzi_scope())::text[]))
    WITH CHECK (mine = current_setting('jindianzi.mine', true) AND mine <> '*');
CREATE POLICY mine_deletes ON idea_term_postings AS RESTRICTIVE FOR DELETE
    USING (mine = current_setting('jindianzi.mine', true));
