-- When the code was presented again after its first use. A replay that comes while the first
-- exchange is still opening its session finds no session to revoke yet: it leaves this mark, and
-- the first exchange revokes what it opened when it sees it.
ALTER TABLE authorization_codes ADD COLUMN replayed_at BIGINT;
