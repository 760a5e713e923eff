-- Share links: the share id (UUIDv7) is the capability that opens the public
-- page of one render. Revoking sets revoked_at; rows are never deleted, except
-- a share whose creation event could not be stored (it was never handed out).
-- revoke_recorded_at is set once the share_revoked event is in the log, so a
-- repeated DELETE does not publish it again.
CREATE TABLE shares (
    id                  uuid PRIMARY KEY,
    project_id          uuid NOT NULL,
    render_id           text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz,
    revoke_recorded_at  timestamptz,
    FOREIGN KEY (project_id, render_id) REFERENCES items (project_id, id)
);
CREATE INDEX shares_render ON shares (project_id, render_id, created_at);

-- E-mails sent with a share link. The tracking pixel's signed token names a
-- row here; the row says which render, share and recipient it belongs to.
-- sent_at is null until the mail server accepted the message; a message it
-- refused is deleted.
CREATE TABLE email_messages (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL,
    render_id   text NOT NULL,
    share_id    uuid REFERENCES shares (id),
    recipient   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    FOREIGN KEY (project_id, render_id) REFERENCES items (project_id, id)
);
CREATE INDEX email_messages_share ON email_messages (share_id);
