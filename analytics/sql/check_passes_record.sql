-- $check just passed (now() is the start of this statement's transaction, after the run's loads).
INSERT OR REPLACE INTO meta.check_passes VALUES ($check, now()::TIMESTAMP, $fingerprint);
