-- Folded text (no diacritics, lower case, đ → d) of each version, for search.
ALTER TABLE procedure_versions
    ADD COLUMN search_name TEXT NOT NULL DEFAULT '',
    ADD COLUMN search_body TEXT NOT NULL DEFAULT '',
    ADD COLUMN search_field TEXT NOT NULL DEFAULT '',
    ADD COLUMN search_agency TEXT NOT NULL DEFAULT '';

-- Legal documents (văn bản quy phạm pháp luật).
CREATE TABLE legal_documents (
    id             UUID PRIMARY KEY,
    number_symbol  TEXT NOT NULL UNIQUE,
    doc_type       TEXT NOT NULL,
    summary        TEXT NOT NULL,
    issuer         TEXT NOT NULL,
    signed_date    DATE NOT NULL,
    effective_date DATE NOT NULL,
    -- in_force, amended, repealed
    status         TEXT NOT NULL DEFAULT 'in_force',
    search_text    TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- "from amends/repeals to".
CREATE TABLE legal_document_links (
    from_id  UUID NOT NULL REFERENCES legal_documents (id),
    to_id    UUID NOT NULL REFERENCES legal_documents (id),
    relation TEXT NOT NULL CHECK (relation IN ('amends', 'repeals')),
    PRIMARY KEY (from_id, to_id, relation)
);

-- Which procedures a document is the legal basis of.
CREATE TABLE legal_bases (
    document_id UUID NOT NULL REFERENCES legal_documents (id),
    code        TEXT NOT NULL REFERENCES procedures (code),
    PRIMARY KEY (document_id, code)
);
CREATE INDEX legal_bases_code ON legal_bases (code);

-- The latest posting (niêm yết) confirmation of each unit for each procedure; stale
-- when its version is older than the procedure's current version.
CREATE TABLE postings (
    unit_id      UUID NOT NULL,
    code         TEXT NOT NULL REFERENCES procedures (code),
    version      INT NOT NULL,
    location     TEXT NOT NULL,
    posted_on    DATE NOT NULL,
    evidence_url TEXT NOT NULL DEFAULT '',
    confirmed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (unit_id, code)
);
CREATE INDEX postings_code ON postings (code);

-- Every confirmation ever made, for audit.
CREATE TABLE posting_history (
    id           BIGSERIAL PRIMARY KEY,
    unit_id      UUID NOT NULL,
    code         TEXT NOT NULL,
    version      INT NOT NULL,
    location     TEXT NOT NULL,
    posted_on    DATE NOT NULL,
    evidence_url TEXT NOT NULL DEFAULT '',
    confirmed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
