-- Document counts per term in a plain table: fts5vocab scans the whole index on every lookup.
-- PostgreSQL translation of the SQLite migration with the same number and name.
CREATE TABLE idea_term_docs (
    term    TEXT PRIMARY KEY,
    docs    INTEGER NOT NULL
);
-- fts5vocab's 'row' counts: for each distinct term, the number of ideas holding it.
INSERT INTO idea_term_docs (term, docs)
SELECT term, count(DISTINCT id)
FROM idea_terms, regexp_split_to_table(terms, '\s+') AS term
WHERE term <> ''
GROUP BY term;
-- The empty term holds the number of indexed ideas.
INSERT INTO idea_term_docs (term, docs) VALUES ('', (SELECT count(*) FROM idea_terms));
