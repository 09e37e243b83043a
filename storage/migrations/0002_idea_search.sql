-- Full-text index of each idea's words, so similar ideas are found fast among 100,000.
CREATE VIRTUAL TABLE idea_terms USING fts5(terms, tokenize = 'unicode61');
CREATE VIRTUAL TABLE idea_terms_vocab USING fts5vocab(idea_terms, 'row');
