-- The current version of each procedure, as search needs it: narrow rows (no content),
-- so a query that matches many procedures reads little.
CREATE TABLE procedure_search (
    code           TEXT PRIMARY KEY REFERENCES procedures (code),
    version        INT NOT NULL,
    status         TEXT NOT NULL,
    level          TEXT NOT NULL,
    effective_date DATE NOT NULL,
    search_name    TEXT NOT NULL,
    name_words     TEXT[] NOT NULL,
    search_words   TEXT[] NOT NULL,
    search_field   TEXT NOT NULL,
    search_agency  TEXT NOT NULL
);
CREATE INDEX procedure_search_words ON procedure_search USING GIN (search_words);

INSERT INTO procedure_search
SELECT p.code, v.version, p.status, coalesce(v.content->>'level', ''), v.effective_date,
       v.search_name, v.name_words, v.search_words, v.search_field, v.search_agency
FROM procedures p JOIN procedure_versions v ON v.code = p.code AND v.version = p.current_version
WHERE p.current_version > 0;
