-- An answered turn in one statement: inserting a row into this view writes the assistant's
-- transcript row and adds the tokens to the user's usage for the day, atomically (one
-- statement is one transaction) and in one round trip to the SQL thread. The view itself
-- holds nothing; the trigger does the writing. See TranscriptRepository.append_answer.
CREATE VIEW answers (
    chat_id, thread_id, user_id, text, conversation_id, input_tokens, output_tokens, day,
    created_at
) AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;

CREATE TRIGGER answers_insert INSTEAD OF INSERT ON answers
BEGIN
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
END;
