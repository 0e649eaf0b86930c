-- Recipients known from the gateway's unit events.
CREATE TABLE units (
    unit_id    UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    parent_id  UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every message to a recipient on a channel. One event gives at most one message per
-- recipient and channel, whatever is redelivered.
CREATE TABLE messages (
    id               UUID PRIMARY KEY,
    unit_id          UUID NOT NULL,
    channel          TEXT NOT NULL,
    event_id         UUID NOT NULL,
    event_type       TEXT NOT NULL,
    template         TEXT NOT NULL,
    template_version INT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    read_at          TIMESTAMPTZ,
    UNIQUE (event_id, unit_id, channel)
);
CREATE INDEX messages_inbox ON messages (unit_id, channel, created_at DESC, id DESC);
