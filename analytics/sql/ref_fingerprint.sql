-- The reference data a day-grained mart depends on (prices, lane targets), as one digest.
SELECT md5(
    coalesce((SELECT string_agg(p::VARCHAR, '|' ORDER BY p::VARCHAR) FROM ref.pricing AS p), '') || '#'
    || coalesce((SELECT string_agg(l::VARCHAR, '|' ORDER BY l::VARCHAR) FROM ref.lanes AS l), '')
);
