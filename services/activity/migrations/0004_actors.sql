-- Whom each write is attributed to: `user:<uuid>`, `key:<uuid>` or `system`, as the
-- verified caller says. NULL: written before writes were attributed (unknown).
--
-- Records are never changed in place: a correction is a new activity row superseding
-- the one it corrects, a resubmission a new revision of (unit, period). So every row
-- describes its record as of the write that made it:
--   created_at, created_by  the first row of the chain (the original activity, the
--                           slot's revision 1), copied forward onto each correction or
--                           revision when it is written;
--   updated_by              who wrote this very row (for a first row, its creator);
--                           its time is the row's own recorded_at / submitted_at.
-- The current row (what a list shows unless the history is asked for) thus carries
-- the original creator and the latest change. A correction of a row whose creator is
-- unknown keeps created_by NULL rather than crediting the corrector.

ALTER TABLE activities
    ADD COLUMN created_at TIMESTAMPTZ,
    ADD COLUMN created_by TEXT,
    ADD COLUMN updated_by TEXT;
-- Corrections chain through `supersedes` (each row superseded at most once), so a
-- row's creation is its chain's first row's recording.
WITH RECURSIVE chain (id, created_at) AS (
    SELECT id, recorded_at FROM activities WHERE supersedes IS NULL
    UNION ALL
    SELECT a.id, c.created_at FROM activities a JOIN chain c ON a.supersedes = c.id
)
UPDATE activities a SET created_at = c.created_at FROM chain c WHERE c.id = a.id;
ALTER TABLE activities ALTER COLUMN created_at SET NOT NULL;

ALTER TABLE one_stop_results
    ADD COLUMN created_at TIMESTAMPTZ,
    ADD COLUMN created_by TEXT,
    ADD COLUMN updated_by TEXT;
UPDATE one_stop_results t SET created_at = (
    SELECT f.submitted_at FROM one_stop_results f
    WHERE f.unit_id = t.unit_id AND f.period = t.period ORDER BY f.revision LIMIT 1);
ALTER TABLE one_stop_results ALTER COLUMN created_at SET NOT NULL;

ALTER TABLE satisfaction_surveys
    ADD COLUMN created_at TIMESTAMPTZ,
    ADD COLUMN created_by TEXT,
    ADD COLUMN updated_by TEXT;
UPDATE satisfaction_surveys t SET created_at = (
    SELECT f.submitted_at FROM satisfaction_surveys f
    WHERE f.unit_id = t.unit_id AND f.period = t.period ORDER BY f.revision LIMIT 1);
ALTER TABLE satisfaction_surveys ALTER COLUMN created_at SET NOT NULL;

ALTER TABLE budget_submissions
    ADD COLUMN created_at TIMESTAMPTZ,
    ADD COLUMN created_by TEXT,
    ADD COLUMN updated_by TEXT;
UPDATE budget_submissions t SET created_at = (
    SELECT f.submitted_at FROM budget_submissions f
    WHERE f.unit_id = t.unit_id AND f.period = t.period ORDER BY f.revision LIMIT 1);
ALTER TABLE budget_submissions ALTER COLUMN created_at SET NOT NULL;
