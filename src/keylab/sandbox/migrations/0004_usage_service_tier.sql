-- The service tier that served each billed call ("default", "flex", "priority"), as the response
-- echoed it and as the usage API groups by it. Calls billed before this migration were all default.
ALTER TABLE usage ADD COLUMN service_tier TEXT NOT NULL DEFAULT 'default';
