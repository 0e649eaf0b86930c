-- Units' communication activities. Corrections are new rows that supersede old ones;
-- nothing is updated in place or deleted.
CREATE TABLE activities (
    id              UUID PRIMARY KEY,
    unit_id         UUID NOT NULL,
    kind            TEXT NOT NULL,
    date            DATE NOT NULL,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    channel         TEXT NOT NULL DEFAULT '',
    audience        TEXT NOT NULL DEFAULT '',
    head_count      BIGINT NOT NULL DEFAULT 0,
    evidence_links  TEXT[] NOT NULL DEFAULT '{}',
    procedure_codes TEXT[] NOT NULL DEFAULT '{}',
    supersedes      UUID REFERENCES activities (id),
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    idempotency_key TEXT,
    UNIQUE (unit_id, idempotency_key)
);
CREATE INDEX activities_unit_recorded ON activities (unit_id, recorded_at DESC, id DESC);
CREATE INDEX activities_recorded ON activities (recorded_at DESC, id DESC);
