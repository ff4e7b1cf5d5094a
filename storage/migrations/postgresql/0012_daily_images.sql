-- Images the image_generation tool drew for the user that day (DAILY_IMAGE_LIMIT counts them),
-- written with the answer's tokens.
ALTER TABLE usage_daily ADD COLUMN images BIGINT NOT NULL DEFAULT 0;
