-- Several replicas (issue 12): the inbox is the queue. Every new pending row wakes the
-- replicas listening on 'inbox_pending' (LISTEN/NOTIFY; a slow poll is the safety net), and
-- the per-user rate limit is a row per user and minute window, shared by all replicas.
CREATE FUNCTION inbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('inbox_pending', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER inbox_pending_notify AFTER INSERT ON inbox
    FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE FUNCTION inbox_notify();

CREATE INDEX inbox_pending_chat ON inbox (chat_id, thread_id, update_id) WHERE state = 'pending';

CREATE UNLOGGED TABLE rate_windows (
    user_id      BIGINT NOT NULL,
    -- The minute window's start (unix seconds, a multiple of 60).
    window_start BIGINT NOT NULL,
    messages     INTEGER NOT NULL,
    PRIMARY KEY (user_id, window_start)
);
