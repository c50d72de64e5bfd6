-- Class students stage their own lessons (issue 11). A class student's organization is a tenant:
-- the practice accounts the student creates belong to it, and it has its own clock offset and
-- faults, so one student's "next month" or staged 500 is nobody else's.
ALTER TABLE organizations ADD COLUMN tenant_id TEXT;
CREATE INDEX organizations_tenant ON organizations (tenant_id);
UPDATE organizations SET tenant_id = id WHERE id IN (SELECT org_id FROM classroom_students);
-- A tenant's clock: its offset from the sandbox's, and the sandbox's time when it was frozen (NULL: running).
CREATE TABLE tenant_clocks (tenant_id TEXT PRIMARY KEY, offset_s REAL NOT NULL, frozen_at REAL);
-- Whose spending a message is about (spend alerts, budget reached), so a student reads only theirs.
ALTER TABLE outbox ADD COLUMN org_id TEXT;
CREATE INDEX outbox_org ON outbox (org_id)
