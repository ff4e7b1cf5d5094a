-- Assistant profiles grow what the old Assistants API had, plus admin state: knowledge files,
-- runtime access rules and an audit trail of admin actions.

-- Appended to the instructions when the assistant looks at photos; NULL for none.
ALTER TABLE assistants ADD COLUMN vision_instructions TEXT;
-- Sampling temperature sent with each answer; NULL leaves the model's default.
ALTER TABLE assistants ADD COLUMN temperature REAL;
-- Reasoning effort (none, minimal, low, medium, high) for reasoning models; NULL sends none.
ALTER TABLE assistants ADD COLUMN reasoning_effort TEXT;
-- JSON list of enabled function tool names, e.g. ["current_time", "weather"].
ALTER TABLE assistants ADD COLUMN tools TEXT NOT NULL DEFAULT '[]';
-- OpenAI vector store (vs_...) holding the assistant's knowledge files; created on first upload.
ALTER TABLE assistants ADD COLUMN vector_store_id TEXT;

CREATE TABLE knowledge_files (
    id              INTEGER PRIMARY KEY,
    assistant_id    INTEGER NOT NULL REFERENCES assistants (id) ON DELETE CASCADE,
    -- OpenAI file id (file-...), also attached to the assistant's vector store.
    openai_file_id  TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    -- Vector store file status when added: in_progress, completed, failed, cancelled.
    status          TEXT NOT NULL,
    added_by        INTEGER NOT NULL,
    created_at      REAL NOT NULL
);

CREATE INDEX knowledge_files_by_assistant ON knowledge_files (assistant_id, id);

-- Runtime access rules set by /allow and /block, on top of ALLOWED_USER_IDS.
CREATE TABLE access_rules (
    user_id     INTEGER PRIMARY KEY,
    rule        TEXT NOT NULL CHECK (rule IN ('allow', 'block')),
    set_by      INTEGER NOT NULL,
    created_at  REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    admin_id    INTEGER NOT NULL,
    -- What was done: assistant.create, assistant.edit, assistant.delete, knowledge.add,
    -- access.allow, access.block, chat.use...
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    -- JSON with the details (new values, file names...).
    details     TEXT NOT NULL DEFAULT '{}',
    created_at  REAL NOT NULL
);

CREATE INDEX transcript_by_time ON transcript (created_at);
