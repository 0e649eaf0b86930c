-- Answers to writes sent with an Idempotency-Key, so a retry gets the first answer.
-- Scoped by the API key that sent them; kept a day.
CREATE TABLE idempotency_keys (
    key_hash     BYTEA NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    -- NULL while the first request is still being answered.
    status       SMALLINT,
    content_type TEXT,
    body         BYTEA,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (key_hash, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
