-- Idempotent reload, step 2: the rows of `incoming` that repeat an event_id (a retried batch written
-- into two objects); the first copy by object path (then ts) is kept. Found before the insert, so
-- no inserted row is ever deleted again (a delete after a bulk insert in one transaction makes the
-- commit rewrite the new row groups). Only ids that occur twice reach the window.
CREATE OR REPLACE TEMP TABLE duplicate_copies AS
SELECT filename, file_row_number
FROM (
    SELECT filename, file_row_number,
        row_number() OVER (PARTITION BY event_id ORDER BY filename, ts, file_row_number) AS copy
    FROM incoming
    WHERE event_id IN (SELECT event_id FROM incoming GROUP BY event_id HAVING count(*) > 1)
)
WHERE copy > 1;
