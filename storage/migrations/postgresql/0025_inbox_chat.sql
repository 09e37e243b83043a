-- The twin of SQLite's 0025: the chat (or sender) each stored update belongs to, so that processes
-- claim a chat's oldest pending update (FOR UPDATE SKIP LOCKED) and one chat's updates stay in order.
ALTER TABLE inbox ADD COLUMN chat TEXT NOT NULL DEFAULT '';
CREATE INDEX inbox_chat_pending ON inbox(channel, chat, received_at, position) WHERE status = 'pending';
