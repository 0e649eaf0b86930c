-- Whom each write is attributed to: `user:<uuid>`, `key:<uuid>` or `system`, as the
-- event's envelope or the verified caller says. NULL: written before writes were
-- attributed (or by an event whose envelope named no one).

-- The activity service's records, as their events' envelopes attribute them.
ALTER TABLE rm_activities ADD COLUMN recorded_by TEXT;
ALTER TABLE rm_one_stop ADD COLUMN recorded_by TEXT;
ALTER TABLE rm_satisfaction ADD COLUMN recorded_by TEXT;
ALTER TABLE rm_budget ADD COLUMN recorded_by TEXT;

-- `created_by` held the creating caller's unit, which still scopes idempotency keys;
-- it keeps that role under its own name, and `created_by` becomes the actor.
ALTER TABLE plans RENAME COLUMN created_by TO created_by_unit;
ALTER TABLE plans ADD COLUMN created_by TEXT, ADD COLUMN updated_by TEXT;

-- A job acts for whoever started it: its changes, and its event, are theirs.
ALTER TABLE reports ADD COLUMN created_by TEXT, ADD COLUMN updated_by TEXT;
