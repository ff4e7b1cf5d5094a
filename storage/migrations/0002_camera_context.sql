-- /camera: a standing context for a chat's photos (e.g. "dashcam", "receipt"); NULL when unset.
ALTER TABLE chats ADD COLUMN camera_context TEXT;
