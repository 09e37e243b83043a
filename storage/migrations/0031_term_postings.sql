-- The similar-idea candidates through a term → idea posting table, an index range under row-level security.
-- The twin of PostgreSQL's 0031, which adds the table idea_term_postings for its search under
-- row-level security. SQLite's FTS5 walks a term's rowids newest first itself: nothing to add.
SELECT 1;
