-- E-mails that carry a one-time account link (an invitation, a password reset) go to
-- the person the gateway names, who is not a recipient: `address` is where they go
-- (the worker sends there, not to a recipient's contacts) and `recipient_id` is the
-- person's user id. The link stays sealed, as the event carried it, in `sealed_link`
-- until it is of no more use — delivered, given up, replaced by a newer link or
-- expired — and is then dropped; the stored text holds a placeholder in its place.
ALTER TABLE messages
    ADD COLUMN address         TEXT,
    ADD COLUMN link_id         UUID,
    ADD COLUMN sealed_link     BYTEA,
    ADD COLUMN link_issued_at  TIMESTAMPTZ,
    ADD COLUMN link_expires_at TIMESTAMPTZ;
-- One e-mail per link, whatever event carries it.
CREATE UNIQUE INDEX messages_one_per_link ON messages (link_id) WHERE link_id IS NOT NULL;
-- The links still held, for dropping them when they expire.
CREATE INDEX messages_links_held ON messages (link_expires_at) WHERE sealed_link IS NOT NULL;
-- A person's links, for a newer one to replace those not yet sent.
CREATE INDEX messages_person_links ON messages (recipient_id) WHERE link_id IS NOT NULL;
