-- Core: accounts, keys (hashes only), credit, usage, stored responses, limits.
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE users (
        id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL DEFAULT '',
        password_hash TEXT, phone TEXT, email_verified_at INTEGER, phone_verified_at INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE organizations (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_user_id TEXT REFERENCES users(id),
        created_at INTEGER NOT NULL, balance_pico INTEGER NOT NULL DEFAULT 0,
        verified INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE projects (
        id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organizations(id), name TEXT NOT NULL,
        created_at INTEGER NOT NULL, archived_at INTEGER, is_default INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('project', 'admin', 'service_account')),
        org_id TEXT NOT NULL REFERENCES organizations(id), project_id TEXT REFERENCES projects(id),
        name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, redacted TEXT NOT NULL,
        scopes TEXT NOT NULL DEFAULT '[]', permission TEXT NOT NULL DEFAULT 'all',
        owner_type TEXT NOT NULL DEFAULT 'user', owner_id TEXT,
        created_at INTEGER NOT NULL, last_used_at INTEGER, expires_at INTEGER, revoked_at INTEGER,
        rpm_limit INTEGER, tpm_limit INTEGER
    );
    CREATE TABLE credit_grants (
        id INTEGER PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organizations(id),
        amount_pico INTEGER NOT NULL, created_at INTEGER NOT NULL, source TEXT NOT NULL
    );
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, org_id TEXT NOT NULL, project_id TEXT NOT NULL,
        key_id TEXT NOT NULL, endpoint TEXT NOT NULL, model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
        input_pico INTEGER NOT NULL, cached_pico INTEGER NOT NULL, output_pico INTEGER NOT NULL,
        cost_pico INTEGER NOT NULL, created_at INTEGER NOT NULL
    );
    CREATE INDEX usage_org_time ON usage (org_id, created_at);
    CREATE INDEX usage_project_time ON usage (project_id, created_at);
    CREATE TABLE responses (
        id TEXT PRIMARY KEY, org_id TEXT NOT NULL, project_id TEXT NOT NULL, body TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE project_rate_limits (
        project_id TEXT NOT NULL, model TEXT NOT NULL, max_requests_per_1_minute INTEGER NOT NULL,
        max_tokens_per_1_minute INTEGER NOT NULL, max_requests_per_1_day INTEGER,
        PRIMARY KEY (project_id, model)
    );
    CREATE TABLE spend_limits (
        scope TEXT NOT NULL CHECK (scope IN ('organization', 'project')), scope_id TEXT NOT NULL,
        threshold_cents INTEGER NOT NULL, currency TEXT NOT NULL DEFAULT 'USD',
        interval TEXT NOT NULL DEFAULT 'month', created_at INTEGER NOT NULL,
        PRIMARY KEY (scope, scope_id)
    );
