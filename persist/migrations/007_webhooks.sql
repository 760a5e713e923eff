-- Webhook endpoints per project (transport/webhooks). The secret is kept
-- in the clear because it must sign every delivery; a rotation keeps the
-- previous one signing until previous_until.
CREATE TABLE webhook_endpoints (
	id              uuid PRIMARY KEY,
	project_id      uuid NOT NULL REFERENCES projects (id),
	url             text NOT NULL,
	event_types     text[] NOT NULL,
	secret          text NOT NULL,
	previous_secret text,
	previous_until  timestamptz,
	created_at      timestamptz NOT NULL DEFAULT now(),
	disabled_at     timestamptz,
	disabled_reason text,
	deleted_at      timestamptz
);
CREATE INDEX webhook_endpoints_project ON webhook_endpoints (project_id, id) WHERE deleted_at IS NULL;

-- Every attempt at a delivery, the dead letter (final) among them: what
-- GET /v1/webhooks/:id/attempts shows, and the dispatcher's attempt count.
CREATE TABLE webhook_attempts (
	seq         bigserial PRIMARY KEY,
	endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	webhook_id  text NOT NULL,
	type        text NOT NULL,
	attempt     int NOT NULL,
	at          timestamptz NOT NULL,
	outcome     text NOT NULL,
	status      int NOT NULL,
	error       text,
	duration_ms bigint NOT NULL,
	final       boolean NOT NULL DEFAULT false
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (endpoint_id, webhook_id);
CREATE INDEX webhook_attempts_recent ON webhook_attempts (endpoint_id, seq DESC);
