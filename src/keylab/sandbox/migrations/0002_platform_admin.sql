-- Platform administration: spend alerts and their monthly deliveries, service accounts, the outbox,
-- and the project columns and rate-limit columns the admin API reports.
ALTER TABLE projects ADD COLUMN external_key_id TEXT;
ALTER TABLE project_rate_limits ADD COLUMN max_images_per_1_minute INTEGER;
ALTER TABLE project_rate_limits ADD COLUMN max_audio_megabytes_per_1_minute INTEGER;
ALTER TABLE project_rate_limits ADD COLUMN batch_1_day_max_input_tokens INTEGER;
    CREATE TABLE spend_alerts (
        id TEXT PRIMARY KEY, scope TEXT NOT NULL CHECK (scope IN ('organization', 'project')),
        scope_id TEXT NOT NULL, threshold_cents INTEGER NOT NULL CHECK (threshold_cents >= 0),
        currency TEXT NOT NULL DEFAULT 'USD', interval TEXT NOT NULL DEFAULT 'month',
        channel_type TEXT NOT NULL DEFAULT 'email', recipients TEXT NOT NULL DEFAULT '[]',
        subject_prefix TEXT, created_at INTEGER NOT NULL
    );
    CREATE INDEX spend_alerts_scope ON spend_alerts (scope, scope_id);
    -- One row per alert and month (period 'YYYY-MM', UTC): the primary key is what makes an alert
    -- send one email a month however many calls cross its threshold at once.
    CREATE TABLE spend_alert_deliveries (
        alert_id TEXT NOT NULL, period TEXT NOT NULL, spend_pico INTEGER NOT NULL,
        message_id TEXT, delivered_at INTEGER NOT NULL,
        PRIMARY KEY (alert_id, period)
    );
    CREATE TABLE service_accounts (
        id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organizations(id),
        project_id TEXT NOT NULL REFERENCES projects(id), name TEXT NOT NULL,
        role TEXT NOT NULL DEFAULT 'member', created_at INTEGER NOT NULL, deleted_at INTEGER
    );
    CREATE INDEX service_accounts_project ON service_accounts (project_id);
    -- Mail and text messages the platform "sends" (spend alerts, verification codes): nothing leaves
    -- the machine; lessons and the dashboard read them here.
    CREATE TABLE outbox (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('email', 'sms')),
        recipients TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '', body TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
