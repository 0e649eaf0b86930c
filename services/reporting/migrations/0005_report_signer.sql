-- Who signs a report, as its request said (empty: the plan's signer).
ALTER TABLE reports ADD COLUMN signer_title TEXT NOT NULL DEFAULT '',
                    ADD COLUMN signer_name TEXT NOT NULL DEFAULT '';
