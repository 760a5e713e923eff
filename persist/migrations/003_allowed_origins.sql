-- The web origins whose pages may send SDK events with a project's keys
-- (CORS on /v1/events). NULL or empty: any origin, as publishable keys are
-- public. Entries are normalised origins (scheme://host[:port]) or '*'.
ALTER TABLE projects ADD COLUMN allowed_origins text[];
