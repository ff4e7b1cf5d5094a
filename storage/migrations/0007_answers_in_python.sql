-- The answered turn is written by storage itself (TranscriptRepository.append_answer: the
-- transcript rows, the day's usage and the inbox mark in one transaction), no longer by the
-- INSTEAD OF trigger of the `answers` view (0005): the logic lives in Python, where another
-- engine can have it too.
DROP TRIGGER IF EXISTS answers_insert;
DROP VIEW IF EXISTS answers;
