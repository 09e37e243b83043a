-- Speed as a figure: each idea's history read from one covering index, and the ideas waiting
-- PostgreSQL translation of the SQLite migration with the same number and name.
-- for their first review found by age without a scan.
CREATE INDEX idea_history_speed ON idea_history(idea_id, from_status, to_status, created_at);
CREATE INDEX ideas_waiting_since ON ideas(created_at) WHERE status = 'submitted';
