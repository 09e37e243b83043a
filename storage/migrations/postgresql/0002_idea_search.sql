-- Full-text index of each idea's words, so similar ideas are found fast among 100,000.
-- PostgreSQL translation: no FTS5 here. `terms` holds the project's own jieba tokens separated
-- by spaces (as the SQLite index is fed), `tsv` those tokens as a tsvector with the 'simple'
-- configuration (no stemming, no stop words), searched with `tsv @@ to_tsquery('simple', …)`.
-- `id` is the idea's id, as the FTS5 table's rowid is.
CREATE TABLE idea_terms (
    id      BIGINT PRIMARY KEY REFERENCES ideas(id),
    terms   TEXT NOT NULL,
    tsv     tsvector GENERATED ALWAYS AS (to_tsvector('simple', terms)) STORED
);
CREATE INDEX idea_terms_tsv ON idea_terms USING GIN (tsv);
-- SQLite's idea_terms_vocab (fts5vocab) is dropped again by 0004 and has no counterpart.
