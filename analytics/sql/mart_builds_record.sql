-- $mart was just built (in its transaction) from reference data and SQL with $fingerprint.
INSERT OR REPLACE INTO meta.mart_builds VALUES ($mart, now()::TIMESTAMP, $fingerprint);
