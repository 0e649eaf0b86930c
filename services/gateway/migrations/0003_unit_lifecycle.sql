-- Units as they really change: renamed, merged into another, closed. Past records keep
-- the unit's id, so they stay attributed to the unit as it was; the names it had are
-- kept with the dates they applied from.
ALTER TABLE units ADD COLUMN merged_into UUID REFERENCES units (id);
ALTER TABLE units ADD COLUMN status_since DATE;

CREATE TABLE unit_names (
    unit_id    UUID NOT NULL REFERENCES units (id),
    name       TEXT NOT NULL,
    -- NULL for the name it was created with.
    valid_from DATE,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO unit_names (unit_id, name) SELECT id, name FROM units;
