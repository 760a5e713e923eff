-- Whether an SDK event about an unregistered content id registers it
-- (within the server's per-project cap and rate). Off by default: such an
-- event is rejected, as before.
ALTER TABLE projects ADD COLUMN auto_create_content boolean NOT NULL DEFAULT false;
