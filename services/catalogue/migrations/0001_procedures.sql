-- Administrative procedures (thủ tục hành chính) and their versions.
CREATE TABLE procedures (
    code            TEXT PRIMARY KEY,
    -- The draft of the next version (ProcedureContent as JSON).
    draft           JSONB NOT NULL,
    -- Bumped on every draft save; a save naming a stale revision is refused.
    draft_revision  INT NOT NULL DEFAULT 1,
    -- The version the public sees; 0 until the first publication takes effect.
    current_version INT NOT NULL DEFAULT 0,
    -- draft, published, abolished (of the current version)
    status          TEXT NOT NULL DEFAULT 'draft',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE procedure_versions (
    code            TEXT NOT NULL REFERENCES procedures (code),
    version         INT NOT NULL,
    content         JSONB NOT NULL,
    decision_number TEXT NOT NULL,
    decision_date   DATE NOT NULL,
    decision_signer TEXT NOT NULL,
    change_type     TEXT NOT NULL,
    change_note     TEXT NOT NULL DEFAULT '',
    effective_date  DATE NOT NULL,
    published_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set when the version became current (at once, or on its effective date).
    current_since   TIMESTAMPTZ,
    PRIMARY KEY (code, version)
);

CREATE INDEX procedure_versions_scheduled ON procedure_versions (effective_date) WHERE current_since IS NULL;
