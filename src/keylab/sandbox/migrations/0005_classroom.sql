-- Classrooms: the roster of a class sandbox, the errors each organization's calls met, and the lab
-- progress that check cells report (identified by the student's key, stored by organization).
CREATE TABLE classroom_students (
    email TEXT PRIMARY KEY, name TEXT NOT NULL, user_id TEXT NOT NULL REFERENCES users(id),
    org_id TEXT NOT NULL REFERENCES organizations(id), project_id TEXT NOT NULL REFERENCES projects(id),
    key_id TEXT NOT NULL, budget_cents INTEGER NOT NULL, created_at INTEGER NOT NULL
);
CREATE INDEX classroom_students_org ON classroom_students (org_id);
-- One counter per organization and error code (bounded: a storm of 429s updates one row).
CREATE TABLE api_error_counts (
    org_id TEXT NOT NULL, code TEXT NOT NULL, status INTEGER NOT NULL, count INTEGER NOT NULL,
    last_at INTEGER NOT NULL, PRIMARY KEY (org_id, code)
);
CREATE TABLE lab_progress (
    org_id TEXT NOT NULL, exercise_id TEXT NOT NULL, best TEXT NOT NULL, latest TEXT NOT NULL,
    attempts INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (org_id, exercise_id)
)
