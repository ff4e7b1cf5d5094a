-- PostgreSQL's 0013 (the inbox's NOTIFY trigger and the shared rate-limit windows) is for
-- several replicas; one SQLite process keeps both in memory: nothing to change here.
SELECT 1;
