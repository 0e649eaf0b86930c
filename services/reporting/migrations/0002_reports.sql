-- Read models for every event reports use, plus plans, report jobs and replays.
-- Every rm_* row keeps `event_at`, the envelope's time, so a replay rebuilds the same rows.

-- Every name a unit has carried, so a report shows the name of its time.
CREATE TABLE rm_unit_names (
    unit_id  UUID NOT NULL,
    name     TEXT NOT NULL,
    kind     TEXT NOT NULL,
    event_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (unit_id, event_at, name)
);
INSERT INTO rm_unit_names (unit_id, name, kind, event_at)
    SELECT unit_id, name, kind, event_at FROM rm_units;

ALTER TABLE rm_procedure_changes
    ADD COLUMN name TEXT NOT NULL DEFAULT '',
    ADD COLUMN field TEXT NOT NULL DEFAULT '',
    ADD COLUMN decision_number TEXT NOT NULL DEFAULT '';
CREATE INDEX rm_procedure_changes_effective ON rm_procedure_changes (effective_date);

CREATE TABLE rm_legal_documents (
    id             UUID PRIMARY KEY,
    number_symbol  TEXT NOT NULL,
    type           TEXT NOT NULL,
    summary        TEXT NOT NULL,
    issuer         TEXT NOT NULL,
    status         TEXT NOT NULL,
    effective_date DATE,
    event_at       TIMESTAMPTZ NOT NULL
);

-- Each version of a procedure a unit confirmed it posted; the earliest date it said.
CREATE TABLE rm_postings (
    unit_id   UUID NOT NULL,
    code      TEXT NOT NULL,
    version   INT NOT NULL,
    posted_on DATE NOT NULL,
    event_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (unit_id, code, version)
);

-- Notices that a unit's posting went out of date.
CREATE TABLE rm_posting_stale (
    unit_id         UUID NOT NULL,
    code            TEXT NOT NULL,
    posted_version  INT NOT NULL,
    current_version INT NOT NULL,
    procedure_name  TEXT NOT NULL,
    event_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (unit_id, code, posted_version, current_version)
);

CREATE INDEX rm_activities_supersedes ON rm_activities (supersedes) WHERE supersedes IS NOT NULL;
CREATE INDEX rm_activities_unit_date ON rm_activities (unit_id, date);

-- One-stop results, every revision; the highest revision of (unit, period) is current.
CREATE TABLE rm_one_stop (
    submission_id              UUID PRIMARY KEY,
    unit_id                    UUID NOT NULL,
    period                     TEXT NOT NULL,
    period_start               DATE NOT NULL,
    period_end                 DATE NOT NULL,
    revision                   INT NOT NULL,
    received_online            BIGINT NOT NULL,
    received_in_person_or_post BIGINT NOT NULL,
    received_carried_over      BIGINT NOT NULL,
    resolved_early             BIGINT NOT NULL,
    resolved_on_time           BIGINT NOT NULL,
    resolved_late              BIGINT NOT NULL,
    pending_within_time        BIGINT NOT NULL,
    pending_overdue            BIGINT NOT NULL,
    returned_withdrawn         BIGINT NOT NULL,
    event_at                   TIMESTAMPTZ NOT NULL
);
CREATE INDEX rm_one_stop_slot ON rm_one_stop (unit_id, period, revision DESC);

CREATE TABLE rm_satisfaction (
    submission_id UUID PRIMARY KEY,
    unit_id       UUID NOT NULL,
    period        TEXT NOT NULL,
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,
    revision      INT NOT NULL,
    responses     BIGINT NOT NULL,
    event_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX rm_satisfaction_slot ON rm_satisfaction (unit_id, period, revision DESC);

CREATE TABLE rm_satisfaction_criteria (
    submission_id  UUID NOT NULL,
    position       INT NOT NULL,
    name           TEXT NOT NULL,
    very_satisfied BIGINT NOT NULL,
    satisfied      BIGINT NOT NULL,
    dissatisfied   BIGINT NOT NULL,
    PRIMARY KEY (submission_id, position)
);

CREATE TABLE rm_budget (
    submission_id     UUID PRIMARY KEY,
    unit_id           UUID NOT NULL,
    year              INT NOT NULL,
    revision          INT NOT NULL,
    planned_total_vnd BIGINT NOT NULL,
    spent_total_vnd   BIGINT NOT NULL,
    event_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX rm_budget_slot ON rm_budget (unit_id, year, revision DESC);

CREATE TABLE rm_budget_lines (
    submission_id  UUID NOT NULL,
    position       INT NOT NULL,
    item           TEXT NOT NULL,
    funding_source TEXT NOT NULL,
    planned_vnd    BIGINT NOT NULL,
    spent_vnd      BIGINT NOT NULL,
    PRIMARY KEY (submission_id, position)
);

-- Plans (kế hoạch). The whole plan is kept as its JSON document; the columns are what
-- is searched or must be unique.
CREATE TABLE plans (
    id              UUID PRIMARY KEY,
    revision        INT NOT NULL,
    number_symbol   TEXT NOT NULL,
    year            INT NOT NULL,
    document        JSONB NOT NULL,
    created_by      UUID NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    idempotency_key TEXT,
    -- SHA-256 of the document first created, to recognise a retry by its key.
    request_hash    TEXT NOT NULL DEFAULT '',
    CONSTRAINT plans_number_year UNIQUE (number_symbol, year),
    CONSTRAINT plans_idempotency UNIQUE (created_by, idempotency_key)
);
CREATE INDEX plans_list ON plans (created_at DESC, id DESC);

-- Report jobs. A worker holds a session advisory lock on the job while it runs it, so a
-- job left `running` by a crash is taken up again as soon as its lock is gone.
CREATE TABLE reports (
    id              UUID PRIMARY KEY,
    plan_id         UUID NOT NULL REFERENCES plans (id),
    plan_revision   INT NOT NULL,
    period          TEXT NOT NULL,
    number_symbol   TEXT NOT NULL DEFAULT '',
    report_date     DATE,
    -- The title asked for (empty: derived); `title` becomes the one the report carries.
    requested_title TEXT NOT NULL DEFAULT '',
    title           TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL DEFAULT 'queued',
    percent         INT NOT NULL DEFAULT 0,
    step            TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    attempts        INT NOT NULL DEFAULT 0,
    not_before      TIMESTAMPTZ NOT NULL DEFAULT now(),
    as_of           TIMESTAMPTZ,
    summary         TEXT NOT NULL DEFAULT '',
    headline        JSONB,
    requested_by    UUID NOT NULL,
    requested_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at      TIMESTAMPTZ,
    completed_at    TIMESTAMPTZ,
    idempotency_key TEXT,
    CONSTRAINT reports_idempotency UNIQUE (requested_by, idempotency_key)
);
CREATE INDEX reports_pending ON reports (requested_at, id) WHERE state IN ('queued', 'running');
CREATE INDEX reports_plan ON reports (plan_id, requested_at DESC, id DESC);

-- The rendered documents, fixed when the job completes.
CREATE TABLE report_files (
    report_id    UUID NOT NULL REFERENCES reports (id),
    format       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    content      BYTEA NOT NULL,
    sha256       TEXT NOT NULL,
    PRIMARY KEY (report_id, format)
);

-- Rebuilds of the read models.
CREATE TABLE replays (
    id           UUID PRIMARY KEY,
    state        TEXT NOT NULL DEFAULT 'running',
    percent      INT NOT NULL DEFAULT 0,
    applied      BIGINT NOT NULL DEFAULT 0,
    total        BIGINT NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    requested_by UUID NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ
);
-- One replay at a time.
CREATE UNIQUE INDEX replays_one_running ON replays (state) WHERE state = 'running';

-- A database that already consumed events did so before these read models existed, so
-- the events they need were passed by: rebuild everything by replaying the streams when
-- the service starts (a fresh database has nothing to rebuild).
INSERT INTO replays (id, requested_by)
SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000000'
WHERE EXISTS (SELECT 1 FROM cchc_processed_events WHERE consumer LIKE 'reporting-%');
