-- Whom each write is attributed to: `user:<uuid>`, `key:<uuid>` or `system`, as the
-- verified caller says (`system` for what the catalogue does on its own, such as a
-- scheduled version becoming current). NULL: written before writes were attributed.

-- A procedure's creation and its latest change: a draft saved or imported, a version
-- published, or a scheduled version made current.
ALTER TABLE procedures ADD COLUMN created_by TEXT, ADD COLUMN updated_by TEXT;

-- Who published each version (published_at says when).
ALTER TABLE procedure_versions ADD COLUMN published_by TEXT;

-- A document changes after it is recorded when a later one amends or repeals it; for
-- documents recorded before this column, the latest such document tells when.
ALTER TABLE legal_documents
    ADD COLUMN created_by TEXT,
    ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN updated_by TEXT;
UPDATE legal_documents d SET updated_at = greatest(d.created_at,
    (SELECT max(f.created_at) FROM legal_document_links l JOIN legal_documents f ON f.id = l.from_id
     WHERE l.to_id = d.id));

-- A posting changes only by being confirmed again, so its latest confirmation is its
-- latest change; its first confirmation (the earliest in the history) is its creation.
ALTER TABLE postings
    ADD COLUMN confirmed_by TEXT,
    ADD COLUMN created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN created_by TEXT;
UPDATE postings s SET created_at = coalesce(
    (SELECT min(h.confirmed_at) FROM posting_history h WHERE h.unit_id = s.unit_id AND h.code = s.code),
    s.confirmed_at);
ALTER TABLE posting_history ADD COLUMN confirmed_by TEXT;
