-- Honest usage: what each answer cost and how it ended.
--
-- transcript: per assistant row, the part of input_tokens read from the prompt cache, the part
-- of output_tokens spent reasoning, the model that answered, and how the response ended
-- ('completed', 'incomplete', 'failed', 'refused', 'interrupted'). NULL on user rows and on
-- rows written before this migration.
ALTER TABLE transcript ADD COLUMN cached_tokens INTEGER;
ALTER TABLE transcript ADD COLUMN reasoning_tokens INTEGER;
ALTER TABLE transcript ADD COLUMN model TEXT;
ALTER TABLE transcript ADD COLUMN status TEXT;

-- usage_daily: the same two parts per user and day (the daily budget and /usage read them).
ALTER TABLE usage_daily ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
