-- Corrections: a record is superseded at most once, so its correction is the one to
-- correct next; the reason is kept with the correction.
ALTER TABLE activities ADD COLUMN correction_reason TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX activities_superseded_once ON activities (supersedes) WHERE supersedes IS NOT NULL;
CREATE INDEX activities_unit_date ON activities (unit_id, date);

-- Units' submissions per period (one-stop results, satisfaction surveys) or year
-- (budget lines, whose period is the year). A resubmission is a new revision; the
-- highest revision of (unit, period) is current and nothing is updated or deleted.

-- One-stop results (một cửa): dossier counters that must reconcile.
CREATE TABLE one_stop_results (
    id                          UUID PRIMARY KEY,
    unit_id                     UUID NOT NULL,
    period                      TEXT NOT NULL,
    period_start                DATE NOT NULL,
    period_end                  DATE NOT NULL,
    revision                    INT NOT NULL CHECK (revision >= 1),
    received_online             BIGINT NOT NULL CHECK (received_online >= 0),
    received_in_person_or_post  BIGINT NOT NULL CHECK (received_in_person_or_post >= 0),
    received_carried_over       BIGINT NOT NULL CHECK (received_carried_over >= 0),
    resolved_early              BIGINT NOT NULL CHECK (resolved_early >= 0),
    resolved_on_time            BIGINT NOT NULL CHECK (resolved_on_time >= 0),
    resolved_late               BIGINT NOT NULL CHECK (resolved_late >= 0),
    pending_within_time         BIGINT NOT NULL CHECK (pending_within_time >= 0),
    pending_overdue             BIGINT NOT NULL CHECK (pending_overdue >= 0),
    returned_withdrawn          BIGINT NOT NULL CHECK (returned_withdrawn >= 0),
    note                        TEXT NOT NULL DEFAULT '',
    submitted_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    idempotency_key             TEXT,
    UNIQUE (unit_id, period, revision),
    UNIQUE (unit_id, idempotency_key),
    CONSTRAINT one_stop_reconciles CHECK (
        received_online + received_in_person_or_post + received_carried_over
        = resolved_early + resolved_on_time + resolved_late
          + pending_within_time + pending_overdue + returned_withdrawn)
);
CREATE INDEX one_stop_results_submitted ON one_stop_results (submitted_at DESC, id DESC);

-- Satisfaction surveys: responses and, per criterion, counts per level.
CREATE TABLE satisfaction_surveys (
    id               UUID PRIMARY KEY,
    unit_id          UUID NOT NULL,
    period           TEXT NOT NULL,
    period_start     DATE NOT NULL,
    period_end       DATE NOT NULL,
    revision         INT NOT NULL CHECK (revision >= 1),
    responses        BIGINT NOT NULL CHECK (responses >= 0),
    -- [{name, very_satisfied, satisfied, dissatisfied}]
    criteria         JSONB NOT NULL,
    submitted_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    idempotency_key  TEXT,
    UNIQUE (unit_id, period, revision),
    UNIQUE (unit_id, idempotency_key)
);
CREATE INDEX satisfaction_surveys_submitted ON satisfaction_surveys (submitted_at DESC, id DESC);

-- Budget lines of a unit for a year, replaced as a whole.
CREATE TABLE budget_submissions (
    id                 UUID PRIMARY KEY,
    unit_id            UUID NOT NULL,
    period             TEXT NOT NULL,
    year               INT NOT NULL,
    revision           INT NOT NULL CHECK (revision >= 1),
    -- [{item, funding_source, planned_vnd, spent_vnd}]
    lines              JSONB NOT NULL,
    planned_total_vnd  BIGINT NOT NULL CHECK (planned_total_vnd >= 0),
    spent_total_vnd    BIGINT NOT NULL CHECK (spent_total_vnd >= 0),
    submitted_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    idempotency_key    TEXT,
    UNIQUE (unit_id, period, revision),
    UNIQUE (unit_id, idempotency_key)
);
CREATE INDEX budget_submissions_submitted ON budget_submissions (submitted_at DESC, id DESC);
