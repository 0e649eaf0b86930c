-- A time limit of 0 working days is now the same day, a real limit; before, 0 was what
-- a draft without one held. Such drafts say "none yet" instead, so that none of them
-- becomes publishable with a same-day limit nobody gave. Published versions always had
-- at least one day (publication required it), so they are left as they are.
UPDATE procedures SET draft = draft - 'processing_days'
WHERE draft->'processing_days' = '0'::jsonb;
