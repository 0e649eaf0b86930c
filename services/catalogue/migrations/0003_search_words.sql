-- Whole folded words of each version, indexed, so search finds candidates through the
-- index instead of scanning every version's text.
ALTER TABLE procedure_versions
    ADD COLUMN search_words TEXT[] GENERATED ALWAYS AS (string_to_array(trim(search_name || ' ' || search_body), ' ')) STORED,
    ADD COLUMN name_words TEXT[] GENERATED ALWAYS AS (string_to_array(search_name, ' ')) STORED;
CREATE INDEX procedure_versions_words ON procedure_versions USING GIN (search_words);
