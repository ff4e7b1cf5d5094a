-- Secrets the bot generates for itself and keeps with its data. The one so far,
-- 'identity_salt', is the key of the salted hashes that stand for Telegram ids in OpenAI
-- requests (safety_identifier, prompt_cache_key): written on the first start that needs it,
-- then the same for the life of the database (a new database means new identifiers).
CREATE TABLE bot_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at REAL NOT NULL  -- unix time
);
