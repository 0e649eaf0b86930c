-- Read models built from other services' events; never written any other way, so they
-- can be rebuilt by replaying the streams.
CREATE TABLE rm_units (
    unit_id    UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    parent_id  UUID,
    event_at   TIMESTAMPTZ NOT NULL
);

-- The current version of each procedure.
CREATE TABLE rm_procedures (
    code        TEXT PRIMARY KEY,
    version     INT NOT NULL,
    name        TEXT NOT NULL,
    field       TEXT NOT NULL,
    level       TEXT NOT NULL,
    status      TEXT NOT NULL,
    event_at    TIMESTAMPTZ NOT NULL
);

-- Every version change, for per-period counts.
CREATE TABLE rm_procedure_changes (
    code           TEXT NOT NULL,
    version        INT NOT NULL,
    change_type    TEXT NOT NULL,
    effective_date DATE NOT NULL,
    event_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (code, version)
);

CREATE TABLE rm_activities (
    activity_id UUID PRIMARY KEY,
    unit_id     UUID NOT NULL,
    kind        TEXT NOT NULL,
    date        DATE NOT NULL,
    head_count  BIGINT NOT NULL,
    supersedes  UUID,
    event_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX rm_activities_date ON rm_activities (date);
