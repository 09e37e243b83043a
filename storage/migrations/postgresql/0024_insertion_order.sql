-- Insertion order as a column, the twin of SQLite's 0024 (there: position = rowid, kept by a
-- trigger, a nullable INTEGER). Here a sequence numbers existing rows in their stored order and
-- every new row after them, distinct across processes; nullable like SQLite's column.
CREATE SEQUENCE project_branches_position_seq;
ALTER TABLE project_branches ADD COLUMN position BIGINT DEFAULT nextval('project_branches_position_seq');
ALTER SEQUENCE project_branches_position_seq OWNED BY project_branches.position;

CREATE SEQUENCE departments_position_seq;
ALTER TABLE departments ADD COLUMN position BIGINT DEFAULT nextval('departments_position_seq');
ALTER SEQUENCE departments_position_seq OWNED BY departments.position;

CREATE SEQUENCE reward_recipients_position_seq;
ALTER TABLE reward_recipients ADD COLUMN position BIGINT DEFAULT nextval('reward_recipients_position_seq');
ALTER SEQUENCE reward_recipients_position_seq OWNED BY reward_recipients.position;

CREATE SEQUENCE inbox_position_seq;
ALTER TABLE inbox ADD COLUMN position BIGINT DEFAULT nextval('inbox_position_seq');
ALTER SEQUENCE inbox_position_seq OWNED BY inbox.position;
