-- A unit merged into another or closed no longer receives messages; what it received
-- stays readable.
ALTER TABLE recipients ADD COLUMN active BOOLEAN NOT NULL DEFAULT true;
