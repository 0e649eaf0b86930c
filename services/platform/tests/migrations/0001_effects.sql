CREATE TABLE effects (event_id UUID NOT NULL, unit_id TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
