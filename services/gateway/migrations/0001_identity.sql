-- Units (schools, offices, divisions) and the API keys that act for them.
CREATE TABLE units (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    -- department, division, high_school, district_office, commune_office, affiliated_unit, other
    kind       TEXT NOT NULL,
    parent_id  UUID REFERENCES units (id),
    -- active, renamed, merged, closed
    status     TEXT NOT NULL DEFAULT 'active',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    unit_id      UUID NOT NULL REFERENCES units (id),
    role         TEXT NOT NULL,
    -- The first characters of the key, to recognise it in lists; the key itself is
    -- never stored, only its SHA-256.
    prefix       TEXT NOT NULL,
    hash         BYTEA NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX api_keys_unit ON api_keys (unit_id);
