-- An answered turn in one statement: inserting a row into this view writes the question's
-- and the answer's transcript rows, adds the tokens to the user's usage for the day and marks
-- the message's inbox row done, atomically (one statement is one transaction: a crash can not
-- leave an answer on record whose message would be answered again) and in one round trip to
-- the SQL thread.
-- The view itself holds nothing; the trigger does the writing (TranscriptRepository.append_answer).
-- question/label/asked_at: the user's message (no row when question is NULL);
-- text/created_at: the assistant's answer; update_id: the message's inbox row (may be NULL).
CREATE VIEW answers (
    chat_id, thread_id, user_id, question, label, asked_at, text, conversation_id,
    input_tokens, output_tokens, day, created_at, update_id
) AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
WHERE 0;

CREATE TRIGGER answers_insert INSTEAD OF INSERT ON answers
BEGIN
    INSERT INTO transcript (chat_id, thread_id, user_id, role, text, label, conversation_id,
                            created_at)
    SELECT NEW.chat_id, NEW.thread_id, NEW.user_id, 'user', NEW.question, NEW.label,
           NEW.conversation_id, NEW.asked_at
    WHERE NEW.question IS NOT NULL;
    INSERT INTO transcript (chat_id, thread_id, user_id, role, text, label, conversation_id,
                            input_tokens, output_tokens, created_at)
    VALUES (NEW.chat_id, NEW.thread_id, NULL, 'assistant', NEW.text, NULL,
            NEW.conversation_id, NEW.input_tokens, NEW.output_tokens, NEW.created_at);
    INSERT INTO usage_daily (user_id, day, requests, input_tokens, output_tokens)
    VALUES (NEW.user_id, NEW.day, 1, NEW.input_tokens, NEW.output_tokens)
    ON CONFLICT (user_id, day) DO UPDATE SET
        requests = requests + 1,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens;
    UPDATE inbox SET state = 'done', done_at = NEW.created_at
    WHERE update_id = NEW.update_id AND state = 'pending';
END;
