-- Pending messages by chat, so that a chat's messages go out in order after a retry.
-- PostgreSQL translation of the SQLite migration with the same number and name.
CREATE INDEX outbox_pending_chat ON outbox(channel, chat_id, id) WHERE status = 'pending';
