-- Hardening for a shared room (issue 12). Numbered after the issue, so it cannot collide with
-- migrations other work adds in parallel (numbers need only increase).
-- The outbox knows whose mail a verification message is: the dashboard shows each user only theirs.
ALTER TABLE outbox ADD COLUMN user_id TEXT;
CREATE INDEX outbox_user ON outbox (user_id);
-- Expired sessions are deleted by expiry on every log-in.
CREATE INDEX sessions_expires ON sessions (expires_at);
-- Log-in failures are counted per address and account.
CREATE INDEX login_attempts_pair ON login_attempts (email, client, created_at)
