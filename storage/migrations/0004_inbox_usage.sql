-- Reliability and limits: the inbox of accepted messages, and per-user daily usage.

-- Every accepted user message, recorded before any OpenAI call and marked done once its answer
-- (or its error message) went out. Pending rows are replayed at start-up: a crash loses nothing.
-- The update_id key also makes a twice-delivered update run once.
CREATE TABLE inbox (
    update_id    INTEGER PRIMARY KEY,
    chat_id      INTEGER NOT NULL,
    thread_id    INTEGER NOT NULL DEFAULT 0,
    -- The update as Telegram sent it (JSON), to process it again after a crash.
    payload      TEXT NOT NULL,
    -- pending -> done; or pending -> expired when too old to answer after a restart.
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'expired')),
    received_at  REAL NOT NULL,
    done_at      REAL
);

CREATE INDEX inbox_pending ON inbox (state, update_id) WHERE state = 'pending';

-- Tokens each user spent per UTC day, from the API's usage figures (daily budget, /usage).
CREATE TABLE usage_daily (
    user_id        INTEGER NOT NULL,
    day            TEXT NOT NULL,
    requests       INTEGER NOT NULL DEFAULT 0,
    input_tokens   INTEGER NOT NULL DEFAULT 0,
    output_tokens  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
) WITHOUT ROWID;
