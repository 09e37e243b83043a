-- Party groups (党小组) receive rewards and own key points: both point at the group by id.
-- PostgreSQL translation of the SQLite migration with the same number and name.
-- A group's share keeps its branch in branch_id too, so the branch's secretary is told.
ALTER TABLE reward_recipients ADD COLUMN group_id BIGINT REFERENCES party_groups(id);
CREATE INDEX reward_recipients_group ON reward_recipients(group_id) WHERE group_id IS NOT NULL;

-- NULL: the key point's branch as a whole owns it.
ALTER TABLE key_points ADD COLUMN group_id BIGINT REFERENCES party_groups(id);
