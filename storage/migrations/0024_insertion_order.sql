-- Insertion order as a column (position = rowid, kept by a trigger): PostgreSQL has no rowid to order by.
-- project_branches: the first branch linked is the lead branch the rewards favour;
-- departments: the configured order; reward_recipients: the shares in the order given;
-- inbox: arrival order among updates stored at the same moment.
ALTER TABLE project_branches ADD COLUMN position INTEGER;
UPDATE project_branches SET position = rowid;
CREATE TRIGGER project_branches_position AFTER INSERT ON project_branches BEGIN
    UPDATE project_branches SET position = NEW.rowid WHERE rowid = NEW.rowid;
END;

ALTER TABLE departments ADD COLUMN position INTEGER;
UPDATE departments SET position = rowid;
CREATE TRIGGER departments_position AFTER INSERT ON departments BEGIN
    UPDATE departments SET position = NEW.rowid WHERE rowid = NEW.rowid;
END;

ALTER TABLE reward_recipients ADD COLUMN position INTEGER;
UPDATE reward_recipients SET position = rowid;
CREATE TRIGGER reward_recipients_position AFTER INSERT ON reward_recipients BEGIN
    UPDATE reward_recipients SET position = NEW.rowid WHERE rowid = NEW.rowid;
END;

ALTER TABLE inbox ADD COLUMN position INTEGER;
UPDATE inbox SET position = rowid;
CREATE TRIGGER inbox_position AFTER INSERT ON inbox BEGIN
    UPDATE inbox SET position = NEW.rowid WHERE rowid = NEW.rowid;
END;
