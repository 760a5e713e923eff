-- Kept deliveries and attempts are deleted by age
-- (ENGAGED_WEBHOOK_RETENTION_DAYS, Store.PruneWebhookHistory).
CREATE INDEX webhook_deliveries_kept_at ON webhook_deliveries (kept_at);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);
