-- The e-mail the platform sends when a monthly spend limit (a budget) is reached: one row per scope,
-- month ('YYYY-MM', UTC) and limit amount. The primary key makes it one e-mail however many calls
-- reach the limit at once; raising the limit and reaching the new one sends another.
CREATE TABLE spend_limit_notices (
    scope TEXT NOT NULL CHECK (scope IN ('organization', 'project')), scope_id TEXT NOT NULL,
    period TEXT NOT NULL, threshold_cents INTEGER NOT NULL, spend_pico INTEGER NOT NULL,
    message_id TEXT, delivered_at INTEGER NOT NULL,
    PRIMARY KEY (scope, scope_id, period, threshold_cents)
);
