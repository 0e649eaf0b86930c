-- A covered unit's sign-off of its figures for one period of a plan (nộp báo cáo).
-- One row per (plan, period, unit): submitted when `reopened_at` is NULL; the office's
-- reopening sets it, and the next submission clears it again. Each change also leaves
-- as an event, which is the history.
CREATE TABLE period_submissions (
    plan_id        UUID NOT NULL REFERENCES plans (id),
    period_key     TEXT NOT NULL,
    unit_id        UUID NOT NULL,
    submitted_at   TIMESTAMPTZ NOT NULL,
    submitted_by   TEXT NOT NULL,
    -- Submitted after the period's due date, by the calendar in Vietnam.
    late           BOOLEAN NOT NULL,
    note           TEXT NOT NULL DEFAULT '',
    reopened_at    TIMESTAMPTZ,
    reopened_by    TEXT,
    reopen_reason  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (plan_id, period_key, unit_id)
);
