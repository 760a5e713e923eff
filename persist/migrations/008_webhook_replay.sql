-- What POST /v1/webhooks/:id/replay re-sends: each delivery's type, event
-- timestamp and data, kept by the dispatcher before its first attempt (the
-- webhook stream is a work queue and forgets a delivery once it is done).
-- The replayed delivery carries the same webhook-id as the original.
CREATE TABLE webhook_deliveries (
	endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	webhook_id  text NOT NULL,
	type        text NOT NULL,
	ts          timestamptz NOT NULL,
	data        bytea NOT NULL,
	kept_at     timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (endpoint_id, webhook_id)
);
CREATE INDEX webhook_deliveries_range ON webhook_deliveries (endpoint_id, ts, webhook_id);

-- Attempts of a replay are counted apart from the original's ('' = the
-- original), so a replay runs the whole retry schedule again.
ALTER TABLE webhook_attempts ADD COLUMN replay_id text NOT NULL DEFAULT '';
DROP INDEX webhook_attempts_delivery;
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (endpoint_id, webhook_id, replay_id);
