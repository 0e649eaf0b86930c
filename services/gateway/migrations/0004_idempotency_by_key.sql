-- Idempotent answers are now scoped by the id of the key that authenticated the request
-- (not a hash of the header), and an issued API key is no longer kept in them. Rows of
-- the old shape match nothing any more, and some hold key plaintexts: forget them.
DELETE FROM idempotency_keys;
