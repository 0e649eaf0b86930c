-- Whom each write is attributed to: `user:<uuid>`, `key:<uuid>` or `system`, as the
-- verified caller says (`system` for what the service does on its own: the recipients
-- it keeps from the gateway's unit events, the default templates and subscriptions).
-- NULL: written before writes were attributed (unknown).

-- A recipient's creation and its latest change (the office's edit, or the unit event
-- that renamed or closed it); updated_at already says when.
ALTER TABLE recipients ADD COLUMN created_by TEXT, ADD COLUMN updated_by TEXT;

-- Subscriptions and template versions are never changed once made.
ALTER TABLE subscriptions ADD COLUMN created_by TEXT;
ALTER TABLE templates ADD COLUMN created_by TEXT;

-- Who first marked an inbox message read (read_at says when).
ALTER TABLE messages ADD COLUMN read_by TEXT;

-- Every retry of a given-up message: who queued it again, when, and after how many
-- attempts. A message may be given up and retried more than once, so the retries are
-- rows of their own rather than columns that the next retry would overwrite.
CREATE TABLE message_retries (
    message_id    UUID NOT NULL REFERENCES messages (id),
    retried_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    retried_by    TEXT NOT NULL,
    after_attempt INT NOT NULL,
    PRIMARY KEY (message_id, retried_at)
);
