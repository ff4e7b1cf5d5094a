-- The Telegram language (`language_code`, e.g. "de" or "pt-br") of the users the bot writes to
-- outside their own conversation: the admins (hand-offs, start notices), as their own updates
-- last gave it. Written only when it changes; kept raw so a language added later applies.
CREATE TABLE user_languages (
    user_id INTEGER PRIMARY KEY,
    language_code TEXT NOT NULL,
    updated_at REAL NOT NULL  -- unix time of the change
);
