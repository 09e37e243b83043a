-- Document counts per term in a plain table: fts5vocab scans the whole index on every lookup.
CREATE TABLE idea_term_docs (
    term    TEXT PRIMARY KEY,
    docs    INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO idea_term_docs (term, docs) SELECT term, doc FROM idea_terms_vocab;
-- The empty term holds the number of indexed ideas.
INSERT INTO idea_term_docs (term, docs) VALUES ('', (SELECT count(*) FROM idea_terms));
DROP TABLE idea_terms_vocab;
