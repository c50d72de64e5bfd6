-- Platform accounts: what the dashboard needs to sign people up, keep them signed in and bill them.
-- Secrets (session ids, email links, SMS codes, one-time form ids) are stored as SHA-256 hashes only.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY, user_id TEXT REFERENCES users(id), csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE email_verifications (
    token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), email TEXT NOT NULL,
    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER
);
CREATE TABLE sms_codes (
    id INTEGER PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), phone TEXT NOT NULL,
    code_hash TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, used_at INTEGER
);
CREATE INDEX sms_codes_user ON sms_codes (user_id, created_at);
CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY, email TEXT NOT NULL, client TEXT NOT NULL, succeeded INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX login_attempts_email ON login_attempts (email, created_at);
CREATE INDEX login_attempts_client ON login_attempts (client, created_at);
CREATE TABLE one_time_forms (
    nonce_hash TEXT PRIMARY KEY, session_hash TEXT NOT NULL, purpose TEXT NOT NULL,
    created_at INTEGER NOT NULL, used_at INTEGER
);
CREATE TABLE billing_settings (
    org_id TEXT PRIMARY KEY REFERENCES organizations(id),
    card_brand TEXT, card_last4 TEXT, card_added_at INTEGER,
    auto_recharge INTEGER NOT NULL DEFAULT 0, recharge_threshold_cents INTEGER NOT NULL DEFAULT 500,
    recharge_target_cents INTEGER NOT NULL DEFAULT 1000, updated_at INTEGER NOT NULL
);
CREATE TABLE payments (
    id INTEGER PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organizations(id), amount_cents INTEGER NOT NULL,
    card_last4 TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('succeeded', 'declined')),
    reason TEXT NOT NULL DEFAULT 'purchase', created_at INTEGER NOT NULL
);
CREATE INDEX payments_org ON payments (org_id, created_at)
