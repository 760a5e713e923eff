-- Erasure requests (POST /v1/privacy/erasures; docs/PRIVACY.md). The job
-- runs from here and resumes here after a restart. The identifier is kept
-- only while the job runs: done, it is set to NULL and only its SHA-256
-- stays, so the record of an erasure does not keep what it erased. needles
-- holds the strings that mark the subject's events (the identifier and, for
-- an e-mail address, the ids of the e-mails sent to it), found before the
-- recipient rows are scrubbed, so a resumed job still knows them.
CREATE TABLE erasures (
	id               uuid PRIMARY KEY,
	project_id       uuid NOT NULL REFERENCES projects (id),
	kind             text NOT NULL CHECK (kind IN ('userId', 'deviceId', 'email')),
	identifier       text,
	identifier_hash  text NOT NULL,
	needles          text[],
	through_seq      bigint,
	status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
	step             text NOT NULL DEFAULT '',
	items_total      int NOT NULL DEFAULT 0,
	items_done       int NOT NULL DEFAULT 0,
	messages_deleted int NOT NULL DEFAULT 0,
	error            text,
	attempts         int NOT NULL DEFAULT 0,
	lease_until      timestamptz,
	created_at       timestamptz NOT NULL DEFAULT now(),
	updated_at       timestamptz NOT NULL DEFAULT now(),
	finished_at      timestamptz
);
CREATE INDEX erasures_open ON erasures (created_at) WHERE status IN ('pending', 'running');
