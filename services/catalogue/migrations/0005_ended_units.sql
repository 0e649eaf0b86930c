-- Units the gateway closed or merged into another (its unit_closed and unit_merged
-- events): they no longer act, so their writes are refused here too.
CREATE TABLE ended_units (
    unit_id        UUID PRIMARY KEY,
    status         TEXT NOT NULL CHECK (status IN ('closed', 'merged')),
    merged_into    UUID,
    effective_date DATE NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
