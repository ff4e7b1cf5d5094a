-- The first schema: assistants, chats bound to them, and the local transcript.

CREATE TABLE assistants (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    instructions  TEXT NOT NULL,
    model         TEXT NOT NULL,
    -- 1 for the assistant every chat starts with; exactly one row has it.
    is_default    INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL
);

CREATE UNIQUE INDEX assistants_one_default ON assistants (is_default) WHERE is_default = 1;

-- One row per conversation place: a chat, or one forum topic of a chat.
CREATE TABLE chats (
    chat_id          INTEGER NOT NULL,
    -- Forum topic id; 0 for chats without topics (and a forum's General topic).
    thread_id        INTEGER NOT NULL DEFAULT 0,
    chat_type        TEXT NOT NULL,
    -- The OpenAI conversation (conv_...); NULL until the first answer or after /new.
    conversation_id  TEXT,
    -- NULL means the default assistant.
    assistant_id     INTEGER REFERENCES assistants (id) ON DELETE SET NULL,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    PRIMARY KEY (chat_id, thread_id)
) WITHOUT ROWID;

CREATE TABLE transcript (
    id                INTEGER PRIMARY KEY,
    chat_id           INTEGER NOT NULL,
    thread_id         INTEGER NOT NULL DEFAULT 0,
    -- Telegram user id of the author; NULL for the assistant's messages.
    user_id           INTEGER,
    role              TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text              TEXT NOT NULL,
    -- Classifier label of a user message; NULL for assistant messages.
    label             TEXT,
    -- The OpenAI conversation the message belongs to (lets /history skip reset contexts).
    conversation_id   TEXT,
    input_tokens      INTEGER,
    output_tokens     INTEGER,
    created_at        REAL NOT NULL
);

CREATE INDEX transcript_by_chat ON transcript (chat_id, thread_id, id);
