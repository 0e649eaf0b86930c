-- Whether a unit has reported for a period of a plan: it has when it submitted the
-- period (nộp báo cáo) and the office has not reopened that submission since. Kept
-- from the reporting service's period_submitted and period_reopened events; a unit may
-- be submitted and reopened any number of times, so each row holds the latest state.
CREATE TABLE unit_period_submissions (
    plan_id       UUID NOT NULL,
    period_key    TEXT NOT NULL,
    unit_id       UUID NOT NULL,
    submitted     BOOLEAN NOT NULL,
    -- Of the latest submission (kept when it is reopened); NULL when never submitted.
    late          BOOLEAN,
    submitted_at  TIMESTAMPTZ,
    -- Why the office reopened it, while it is reopened.
    reopen_reason TEXT,
    -- The event the state comes from: its time (the envelope's occurred_at), then its
    -- id. A state changes only for a later event, so an older one arriving late, or
    -- again, never undoes a newer one.
    event_at      TIMESTAMPTZ NOT NULL,
    event_id      UUID NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, period_key, unit_id)
);

-- The default report_due text said the unit had recorded no activity or one-stop
-- result; what counts now is a submission. A database still on that default (no
-- version saved by the office since) gets the corrected text as its next version; a
-- fresh one has no templates yet and starts with the corrected default.
INSERT INTO templates (key, language, version, subject, text, html, created_by)
SELECT key, language, version + 1, subject,
       replace(text, 'Đến nay đơn vị chưa ghi nhận hoạt động hay kết quả một cửa nào cho kỳ này.',
               'Đến nay đơn vị chưa nộp báo cáo kỳ này.'),
       html, 'system'
FROM templates t
WHERE key = 'report_due' AND language = 'vi' AND version = 1
  AND text LIKE '%chưa ghi nhận hoạt động hay kết quả một cửa nào cho kỳ này.%'
  AND NOT EXISTS (SELECT 1 FROM templates n WHERE n.key = t.key AND n.language = t.language
                  AND n.version > t.version);
