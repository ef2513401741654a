-- Stage the rows of a group of lake objects (`incoming`: their rows plus "__filename", the object's
-- full path; $prefix_len strips the lake root so source_file is relative to it).
CREATE OR REPLACE TEMP TABLE staged AS
SELECT * EXCLUDE ("__filename"), substr("__filename", $prefix_len + 1) AS source_file
FROM incoming;
