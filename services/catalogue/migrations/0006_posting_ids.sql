-- An id for each posting, so lists page by (confirmed_at, id) like every other list:
-- a unit's confirmations can share a timestamp, an id cannot.
ALTER TABLE postings ADD COLUMN id UUID NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX postings_id ON postings (id);
CREATE INDEX postings_confirmed ON postings (confirmed_at DESC, id DESC);
