-- Notices a start of the bot still owes the admins, kept until a start has given them. The one
-- kind so far, 'new_database', is written when a database is created (Database.migrate): the
-- /allow and /block rules of any earlier database are gone with it. It survives
-- `python -m bot --check`, which creates the database without telling anyone.
CREATE TABLE start_notices (
    name TEXT PRIMARY KEY,
    since REAL NOT NULL  -- when it arose (unix time)
);
