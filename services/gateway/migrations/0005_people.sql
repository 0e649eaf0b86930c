-- People: staff with their own accounts, the one-time links that let them set a
-- password, their sessions, and an append-only log of what was done to accounts.
CREATE TABLE users (
    id              UUID PRIMARY KEY,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL,
    unit_id         UUID NOT NULL REFERENCES units (id),
    role            TEXT NOT NULL,
    -- invited (no password yet), active, disabled
    status          TEXT NOT NULL DEFAULT 'invited',
    -- argon2id PHC string; NULL until the person sets one.
    password_hash   TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by      TEXT,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by      TEXT,
    last_sign_in_at TIMESTAMPTZ
);
-- One account per address, whatever its case.
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_unit ON users (unit_id);

-- Invitations and password resets. Only the SHA-256 of the link's token is kept.
CREATE TABLE account_links (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id),
    -- invitation, password_reset
    purpose    TEXT NOT NULL,
    hash       BYTEA NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    -- Used, or replaced by a newer link: it works no more.
    ended_at   TIMESTAMPTZ
);
CREATE INDEX account_links_user ON account_links (user_id) WHERE ended_at IS NULL;

CREATE TABLE sessions (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id),
    -- SHA-256 of the token.
    hash         BYTEA NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The absolute end, whatever the use.
    expires_at   TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE ended_at IS NULL;

CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- sign_in, sign_in_failed, sign_out, user_invited, invitation_resent,
    -- invitation_accepted, password_reset_requested, password_reset, user_changed,
    -- user_disabled, user_enabled
    action  TEXT NOT NULL,
    -- Who did it (user:<id>, key:<id>, system); NULL for an anonymous attempt.
    actor   TEXT,
    -- The account it concerns, when there is one.
    user_id UUID,
    unit_id UUID,
    -- The client address it came from.
    address TEXT,
    detail  JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_user ON audit_log (user_id, id);

-- Append-only: what happened stays as it was written.
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();

-- Who made and last changed each unit, and who issued each key.
ALTER TABLE units ADD COLUMN created_by TEXT;
ALTER TABLE units ADD COLUMN updated_by TEXT;
ALTER TABLE api_keys ADD COLUMN created_by TEXT;
