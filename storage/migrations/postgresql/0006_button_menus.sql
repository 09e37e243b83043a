-- The last buttons sent to a chat, so that replying with a number presses one (WeCom fallback).
-- PostgreSQL translation of the SQLite migration with the same number and name.
CREATE TABLE button_menus (
    channel     TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    buttons     TEXT NOT NULL,
    ref         TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (channel, chat_id)
);
