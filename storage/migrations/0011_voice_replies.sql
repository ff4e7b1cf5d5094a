-- /voice on|off: answers to the chat's voice notes are also sent as a voice message (1), or
-- as text only (0, the default).
ALTER TABLE chats ADD COLUMN voice_replies INTEGER NOT NULL DEFAULT 0;
