-- Projects own keys and items. Deleting a project is a soft delete: its keys
-- then answer 403 forbidden instead of 401, as the API documents.
CREATE TABLE projects (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);

-- API keys are shown once; only a SHA-256 of the whole key is kept. Keys are
-- 192 random bits, so a fast hash is enough (no password stretching needed).
CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects(id),
    kind        text NOT NULL CHECK (kind IN ('secret', 'publishable')),
    prefix      text NOT NULL,
    hash        bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_project ON api_keys (project_id);

-- Items are what events are about: renders (UUIDv7 ids) and, later, SDK
-- content items. One id space per project, so an item id names one actor.
CREATE TABLE items (
    project_id    uuid NOT NULL REFERENCES projects(id),
    id            text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('render', 'content')),
    document_url  text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, id)
);

-- The fence of partition ownership: claiming a partition bumps its epoch, and
-- a snapshot write under an older epoch changes nothing.
CREATE TABLE partitions (
    part        integer PRIMARY KEY,
    epoch       bigint NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now()
);

-- Newest state of each item as of log sequence seq. The log after seq is
-- replayed on activation.
CREATE TABLE snapshots (
    project_id  uuid NOT NULL,
    item_id     text NOT NULL,
    seq         bigint NOT NULL,
    state       bytea NOT NULL, -- JSON; bytea because jsonb refuses \u0000, which event metadata may carry
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, item_id)
);
